; Blocks fold: networks, subnets, containers and their attachments.
[
  (network_block)
  (subnet_block)
  (container_block)
  (attachment_block)
] @fold
