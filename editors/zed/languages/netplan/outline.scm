; The outline panel lists networks, containers, their attachments and hooks.
(network_declaration
  "network" @context
  name: (network_name) @name) @item

(container_declaration
  "container" @context
  name: (container_name) @name) @item

(network_attachment
  "network" @context
  network: (network_name) @name) @item

(hook_statement
  "hook" @context
  event: (event) @name) @item
