/**
 * @file Tree-sitter grammar for the netplan topology language (.net files)
 * @license MIT OR Apache-2.0
 *
 * Mirrors the authoritative pest grammar of the language (lang/src/grammar.pest).
 * Every keyword there is a string literal here; `editors/check-keywords.js`
 * fails when the two drift apart.
 *
 * Newlines and `;` both end statements in the language. Since every statement
 * starts with a keyword, this grammar treats newlines as whitespace and `;` as
 * an optional separator, which keeps the tree simple and error recovery good.
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

const HEX = /[0-9a-fA-F]/.source;

module.exports = grammar({
  name: 'netplan',

  extras: $ => [/\s/, $.comment],

  word: $ => $.name,

  rules: {
    source_file: $ => repeat(choice($._item, ';')),

    _item: $ => choice(
      $.network_declaration,
      $.container_declaration,
      $.hook_statement,
    ),

    // ------------------------------------------------------------ networks

    network_declaration: $ => seq(
      'network',
      field('name', alias($.name, $.network_name)),
      optional(field('body', $.network_block)),
    ),

    network_block: $ => block($, choice(
      $.driver_statement,
      $.subnet_statement,
      $.ipv6_statement,
      $.gateway_statement,
      $.ip_range_statement,
      $.aux_statement,
      $.bridge_statement,
      $.mtu_statement,
      $.icc_statement,
      $.masquerade_statement,
      $.host_ip_statement,
      $.label_statement,
      $.internal_statement,
      $.option_statement,
      $.alias_mode_statement,
      $.hook_statement,
    )),

    driver_statement: $ => seq('driver', field('driver', alias($.name, $.driver))),

    subnet_statement: $ => seq(
      'subnet',
      field('subnet', $.cidr),
      optional(field('body', $.subnet_block)),
    ),

    subnet_block: $ => block($, choice(
      $.gateway_statement,
      $.ip_range_statement,
      $.aux_statement,
    )),

    ipv6_statement: _ => 'ipv6',

    gateway_statement: $ => seq('gateway', field('address', $._address)),

    ip_range_statement: $ => seq('ip-range', field('range', $.cidr)),

    aux_statement: $ => seq(
      'aux',
      field('name', alias($.name, $.aux_name)),
      field('address', $._address),
    ),

    bridge_statement: $ => seq('bridge', field('name', $.interface_name)),

    mtu_statement: $ => seq('mtu', field('value', $.integer)),

    icc_statement: $ => seq('icc', field('value', $.boolean)),

    masquerade_statement: $ => seq('masquerade', field('value', $.boolean)),

    host_ip_statement: $ => seq('host-ip', field('address', $._address)),

    label_statement: $ => seq(
      'label',
      field('key', alias($.name, $.label_key)),
      '=',
      field('value', $.string),
    ),

    internal_statement: _ => 'internal',

    option_statement: $ => seq(
      'option',
      field('key', alias($.string, $.option_key)),
      '=',
      field('value', $.string),
    ),

    alias_mode_statement: $ => seq('alias-mode', field('mode', alias($.name, $.alias_mode))),

    // ------------------------------------------------------------ containers

    container_declaration: $ => seq(
      'container',
      field('name', alias($.name, $.container_name)),
      optional(field('body', $.container_block)),
    ),

    container_block: $ => block($, choice(
      $.network_attachment,
      $.publish_statement,
      $.run_statement,
      $.dns_statement,
      $.hook_statement,
    )),

    network_attachment: $ => seq(
      'network',
      field('network', alias($.name, $.network_name)),
      optional(field('body', $.attachment_block)),
    ),

    attachment_block: $ => block($, choice(
      $.ip_statement,
      $.ip6_statement,
      $.alias_statement,
      $.link_statement,
      $.mac_statement,
    )),

    ip_statement: $ => seq('ip', field('address', $._address)),

    ip6_statement: $ => seq('ip6', field('address', $._address)),

    alias_statement: $ => seq('alias', field('alias', alias($.name, $.alias_name))),

    link_statement: $ => seq(
      'link',
      field('container', alias($.name, $.container_name)),
      'as',
      field('alias', alias($.name, $.alias_name)),
    ),

    mac_statement: $ => seq('mac', field('address', $.mac_address)),

    publish_statement: $ => seq('publish', field('spec', $.publish_spec)),

    // [HOST_IP:][HOST_PORT:]PORT[/PROTOCOL], the host IP of IPv6 in brackets
    publish_spec: $ => seq(
      optional(seq(
        field('host_ip', choice(
          $.ipv4_address,
          seq('[', $.ipv6_address, ']'),
        )),
        ':',
      )),
      optional(seq(optional(field('host_port', $.port)), ':')),
      field('port', $.port),
      optional(seq('/', field('protocol', alias($.name, $.protocol)))),
    ),

    run_statement: $ => seq('run', field('command', $.string)),

    dns_statement: $ => seq('dns', field('server', $._address)),

    // ------------------------------------------------------------ hooks

    hook_statement: $ => seq(
      'hook',
      field('event', alias($.name, $.event)),
      field('script', alias($.string, $.script_path)),
    ),

    // ------------------------------------------------------------ names

    name: _ => /[a-zA-Z0-9][a-zA-Z0-9_.-]*/,

    // a Linux interface name may also start with `_`
    interface_name: _ => /[a-zA-Z0-9_.-]+/,

    // ------------------------------------------------------------ literals

    _address: $ => choice($.ipv4_address, $.ipv6_address),

    ipv4_address: _ => /[0-9]{1,3}(\.[0-9]{1,3}){3}/,

    // loose on purpose (the language checks addresses precisely later):
    // hex groups joined by `:`, at least two colons, an optional dotted IPv4 tail
    ipv6_address: _ => new RegExp(`${HEX}{0,4}(:${HEX}{0,4}){2,7}(\\.[0-9]{1,3}){0,3}`),

    cidr: $ => seq(
      field('address', $._address),
      token.immediate('/'),
      field('prefix', alias(token.immediate(/[0-9]+/), $.prefix_length)),
    ),

    mac_address: _ => new RegExp(`${HEX}{1,4}([:.-]${HEX}{1,4}){2,7}`),

    port: _ => /[0-9]+(-[0-9]+)?/,

    integer: _ => /[0-9]+/,

    boolean: _ => choice('on', 'off'),

    string: $ => seq(
      '"',
      repeat(choice($.string_content, $.escape_sequence)),
      token.immediate('"'),
    ),

    string_content: _ => token.immediate(prec(1, /[^"\\\r\n]+/)),

    escape_sequence: _ => token.immediate(/\\./),

    comment: _ => token(seq('#', /.*/)),
  },
});

/**
 * A `{ ... }` block of statements separated by newlines or `;`.
 *
 * @param {GrammarSymbols<string>} _$
 * @param {RuleOrLiteral} statement
 * @returns {SeqRule}
 */
function block(_$, statement) {
  return seq('{', repeat(choice(statement, ';')), '}');
}
