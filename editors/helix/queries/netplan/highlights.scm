; Generated from tree-sitter-netplan/queries/highlights.scm by editors/sync-queries.js for Helix: do not edit.

; Highlights for the netplan topology language (.net).
; Capture names follow the common tree-sitter conventions (Neovim, Zed); the
; patterns do not overlap, so the order of patterns does not matter.

; ------------------------------------------------------------------ keywords

[
  "network"
  "container"
  "hook"
  "driver"
  "subnet"
  "gateway"
  "ip-range"
  "aux"
  "bridge"
  "mtu"
  "icc"
  "masquerade"
  "host-ip"
  "label"
  "option"
  "alias-mode"
  "ip"
  "ip6"
  "alias"
  "link"
  "mac"
  "publish"
  "run"
  "dns"
] @keyword

; flags: the statement is the keyword
(ipv6_statement) @keyword

(internal_statement) @keyword

"as" @keyword.operator

; ------------------------------------------------------------------ names

(network_declaration
  name: (network_name) @type)

(network_attachment
  network: (network_name) @type
  (#not-any-of? @type "bridge" "host" "none"))

; the predefined networks
(network_attachment
  network: (network_name) @constant.builtin
  (#any-of? @constant.builtin "bridge" "host" "none"))

(container_declaration
  name: (container_name) @function)

(link_statement
  container: (container_name) @function)

(alias_name) @label

(aux_name) @variable

(interface_name) @variable.other.member

(label_key) @variable.other.member

(option_key) @variable.other.member

; ------------------------------------------------------------------ values

(driver) @constant.builtin

(alias_mode) @constant.builtin

(event) @constant.builtin

(protocol) @constant.builtin

(boolean) @constant.builtin.boolean

[
  (ipv4_address)
  (ipv6_address)
  (mac_address)
  (prefix_length)
  (port)
  (integer)
] @constant.numeric

(script_path) @string.special.path

(string) @string

(escape_sequence) @constant.character.escape

(comment) @comment

; ------------------------------------------------------------------ punctuation

[
  "{"
  "}"
  "["
  "]"
] @punctuation.bracket

[
  ";"
  ":"
  "/"
] @punctuation.delimiter

"=" @operator
