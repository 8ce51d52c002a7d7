; Indentation (nvim-treesitter conventions): one level inside each block.
[
  (network_block)
  (subnet_block)
  (container_block)
  (attachment_block)
] @indent.begin

"}" @indent.branch @indent.end

(comment) @indent.auto
