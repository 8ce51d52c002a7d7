; Indentation for Helix: one level inside each block.
[
  (network_block)
  (subnet_block)
  (container_block)
  (attachment_block)
] @indent

"}" @outdent
