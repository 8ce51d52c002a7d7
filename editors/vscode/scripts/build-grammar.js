#!/usr/bin/env node
// Builds syntaxes/netplan.tmLanguage.json from the regex building blocks below.
//
// The JSON grammar is committed (VS Code reads it directly); this script is its
// source. Edit here, run `npm run build-grammar`, commit both. The test suite
// runs `node scripts/build-grammar.js --check` so the two never differ.
'use strict';

const fs = require('fs');
const path = require('path');

const OUT = path.join(__dirname, '..', 'syntaxes', 'netplan.tmLanguage.json');

// ---------------------------------------------------------------- building blocks

// Names: [a-zA-Z0-9][a-zA-Z0-9_.-]*
const NAME = '[a-zA-Z0-9][a-zA-Z0-9_.-]*';
// characters that continue a name, an address or a keyword
const B = '(?<![\\w.:-])';
const E = '(?![\\w.:-])';
// a keyword: not part of a longer name (`network` in `network-created` is none)
const kw = (...words) => `${B}(?:${words.join('|')})${E}`;

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = `(?:${OCTET}\\.){3}${OCTET}`;
const H = '[0-9a-fA-F]{1,4}';
const IPV6 = '(?:' + [
  `(?:${H}:){7}${H}`,
  `(?:${H}:){6}${IPV4}`,
  `(?:${H}:){1,7}:`,
  `(?:${H}:){1,6}:${H}`,
  `(?:${H}:){1,5}(?::${H}){1,2}`,
  `(?:${H}:){1,4}(?::${H}){1,3}`,
  `(?:${H}:){1,3}(?::${H}){1,4}`,
  `(?:${H}:){1,2}(?::${H}){1,5}`,
  `${H}:(?::${H}){1,6}`,
  `(?:${H}:){1,5}:(?:${H}:){0,4}${IPV4}`,
  `::(?:${H}:){0,5}${IPV4}`,
  `:(?:(?::${H}){1,7}|:)`,
].join('|') + ')';
const PREFIX4 = '(?:3[0-2]|[12]?[0-9])';
const PREFIX6 = '(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])';
const MAC = '(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}';
const PORT = '[0-9]+(?:-[0-9]+)?';
const STRING = '"(?:[^"\\\\]|\\\\.)*"';

// Keywords of the language (the pest grammar's literals) and well-known values.
const STATEMENT_KEYWORDS = [
  'network', 'container', 'hook', 'driver', 'subnet', 'ipv6', 'gateway', 'ip-range',
  'aux', 'bridge', 'mtu', 'icc', 'masquerade', 'host-ip', 'label', 'internal',
  'option', 'alias-mode', 'ip6', 'ip', 'alias', 'link', 'as', 'mac', 'publish',
  'run', 'dns',
];
const DRIVERS = ['bridge', 'overlay'];
const ALIAS_MODES = ['first', 'all'];
const PREDEFINED_NETWORKS = ['bridge', 'host', 'none'];
const EVENTS = [
  'before-apply', 'after-apply', 'before-destroy', 'after-destroy',
  'network-created', 'network-removed', 'container-up', 'container-down', 'plan',
];
const PROTOCOLS = ['tcp', 'udp', 'sctp'];

// ---------------------------------------------------------------- rules

const include = name => ({ include: `#${name}` });

// a declaration `KEYWORD NAME [{ ... }]`: the block is optional, and anything
// other than `{` that follows ends the declaration
const declaration = (keyword, nameCaptures, blockRule, metaName) => ({
  name: metaName,
  begin: `${B}(${keyword})${E}(?:[ \\t]+(?:${nameCaptures.pattern}))?`,
  beginCaptures: { 1: { name: `storage.type.${keyword}.netplan` }, ...nameCaptures.captures },
  end: '(?<=\\})|(?=[^\\s{])',
  patterns: [include('comment'), include(blockRule)],
});

const block = (name, patterns) => ({
  name,
  begin: '\\{',
  beginCaptures: { 0: { name: 'punctuation.section.block.begin.netplan' } },
  end: '\\}',
  endCaptures: { 0: { name: 'punctuation.section.block.end.netplan' } },
  patterns: [include('comment'), include('terminator'), ...patterns,
    include('values'), include('keywords')],
});

// one-line statement `KEYWORD ...` whose values are scoped by the shared value rules
const statement = (keyword, name, patterns) => ({
  name,
  begin: `${B}(${keyword})${E}`,
  beginCaptures: { 1: { name: `keyword.other.${keyword}.netplan` } },
  end: '(?=[;#}])|$',
  patterns,
});

const grammar = {
  $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
  name: 'netplan',
  scopeName: 'source.netplan',
  fileTypes: ['net'],
  patterns: [
    include('comment'),
    include('terminator'),
    include('network-declaration'),
    include('container-declaration'),
    include('hook'),
    include('keywords'),
  ],
  repository: {
    comment: {
      match: '(#).*$',
      name: 'comment.line.number-sign.netplan',
      captures: { 1: { name: 'punctuation.definition.comment.netplan' } },
    },
    terminator: {
      match: ';',
      name: 'punctuation.terminator.statement.netplan',
    },
    string: {
      name: 'string.quoted.double.netplan',
      begin: '"',
      beginCaptures: { 0: { name: 'punctuation.definition.string.begin.netplan' } },
      end: '"|$',
      endCaptures: { 0: { name: 'punctuation.definition.string.end.netplan' } },
      patterns: [include('escape')],
    },
    escape: {
      patterns: [
        { match: '\\\\["\\\\]', name: 'constant.character.escape.netplan' },
        { match: '\\\\.', name: 'invalid.illegal.escape.netplan' },
      ],
    },
    keywords: {
      match: `${B}(?:${STATEMENT_KEYWORDS.join('|')})${E}`,
      name: 'keyword.other.netplan',
    },
    values: {
      patterns: [
        include('string'),
        include('cidr'),
        include('mac'),
        include('ipv6'),
        include('ipv4'),
        include('boolean'),
        include('integer'),
        { match: '=', name: 'keyword.operator.assignment.netplan' },
      ],
    },
    cidr: {
      patterns: [
        {
          match: `${B}(${IPV6})(/)(${PREFIX6})${E}`,
          name: 'meta.cidr.ipv6.netplan',
          captures: {
            1: { name: 'constant.numeric.ipv6.netplan' },
            2: { name: 'punctuation.separator.cidr.netplan' },
            3: { name: 'constant.numeric.prefix-length.netplan' },
          },
        },
        {
          match: `${B}(${IPV4})(/)(${PREFIX4})${E}`,
          name: 'meta.cidr.ipv4.netplan',
          captures: {
            1: { name: 'constant.numeric.ipv4.netplan' },
            2: { name: 'punctuation.separator.cidr.netplan' },
            3: { name: 'constant.numeric.prefix-length.netplan' },
          },
        },
      ],
    },
    ipv4: { match: `${B}${IPV4}${E}`, name: 'constant.numeric.ipv4.netplan' },
    ipv6: { match: `${B}${IPV6}${E}`, name: 'constant.numeric.ipv6.netplan' },
    mac: { match: `${B}${MAC}${E}`, name: 'constant.numeric.mac.netplan' },
    boolean: { match: kw('on', 'off'), name: 'constant.language.boolean.netplan' },
    integer: { match: `${B}[0-9]+${E}`, name: 'constant.numeric.integer.netplan' },

    // -------------------------------------------------------------- top level
    'network-declaration': declaration(
      'network',
      { pattern: `(${NAME})${E}`, captures: { 2: { name: 'entity.name.type.network.netplan' } } },
      'network-block',
      'meta.network.netplan',
    ),
    'container-declaration': declaration(
      'container',
      { pattern: `(${NAME})${E}`, captures: { 2: { name: 'entity.name.function.container.netplan' } } },
      'container-block',
      'meta.container.netplan',
    ),

    // `hook EVENT "path/to/script.rhai"`, at top level or in a network or container
    hook: {
      name: 'meta.hook.netplan',
      begin: `${B}(hook)${E}(?:[ \\t]+(?:(${EVENTS.join('|')})|(${NAME}))${E})?`,
      beginCaptures: {
        1: { name: 'keyword.other.hook.netplan' },
        2: { name: 'support.constant.event.netplan' },
        3: { name: 'invalid.illegal.event.netplan' },
      },
      end: '(?=[;#}])|$',
      patterns: [
        {
          name: 'string.quoted.double.path.rhai.netplan',
          begin: '"',
          beginCaptures: { 0: { name: 'punctuation.definition.string.begin.netplan' } },
          end: '"|$',
          endCaptures: { 0: { name: 'punctuation.definition.string.end.netplan' } },
          patterns: [include('escape')],
        },
      ],
    },

    // -------------------------------------------------------------- network
    'network-block': block('meta.block.network.netplan', [
      include('subnet'),
      include('hook'),
      include('network-statements'),
    ]),
    'network-statements': {
      patterns: [
        {
          match: `${B}(driver)${E}(?:[ \\t]+(?:(${DRIVERS.join('|')})|(${NAME}))${E})?`,
          captures: {
            1: { name: 'keyword.other.driver.netplan' },
            2: { name: 'support.constant.driver.netplan' },
            3: { name: 'invalid.illegal.driver.netplan' },
          },
        },
        {
          match: `${B}(alias-mode)${E}(?:[ \\t]+(?:(${ALIAS_MODES.join('|')})|(${NAME}))${E})?`,
          captures: {
            1: { name: 'keyword.other.alias-mode.netplan' },
            2: { name: 'support.constant.alias-mode.netplan' },
            3: { name: 'invalid.illegal.alias-mode.netplan' },
          },
        },
        {
          match: `${B}(aux)${E}(?:[ \\t]+(${NAME})${E})?`,
          captures: {
            1: { name: 'keyword.other.aux.netplan' },
            2: { name: 'variable.other.aux.netplan' },
          },
        },
        {
          match: `${B}(bridge)${E}(?:[ \\t]+([a-zA-Z0-9_.-]+)${E})?`,
          captures: {
            1: { name: 'keyword.other.bridge.netplan' },
            2: { name: 'entity.name.tag.interface.netplan' },
          },
        },
        {
          match: `${B}(label)${E}(?:[ \\t]+(${NAME})${E})?(?:[ \\t]*(=))?`,
          captures: {
            1: { name: 'keyword.other.label.netplan' },
            2: { name: 'entity.other.attribute-name.label.netplan' },
            3: { name: 'keyword.operator.assignment.netplan' },
          },
        },
        {
          match: `${B}(option)${E}(?:[ \\t]+(${STRING}))?(?:[ \\t]*(=))?`,
          captures: {
            1: { name: 'keyword.other.option.netplan' },
            2: { name: 'entity.other.attribute-name.option.netplan', patterns: [include('string')] },
            3: { name: 'keyword.operator.assignment.netplan' },
          },
        },
        {
          match: `${B}(gateway|ip-range|host-ip|mtu|icc|masquerade|ipv6|internal)${E}`,
          captures: { 1: { name: 'keyword.other.$1.netplan' } },
        },
      ],
    },
    // `subnet CIDR [{ gateway ..; ip-range ..; aux .. }]`
    subnet: {
      name: 'meta.subnet.netplan',
      begin: `${B}(subnet)${E}`,
      beginCaptures: { 1: { name: 'keyword.other.subnet.netplan' } },
      end: '(?<=\\})|(?=[;#}])|$',
      patterns: [include('subnet-block'), include('values')],
    },
    'subnet-block': block('meta.block.subnet.netplan', [include('network-statements')]),

    // -------------------------------------------------------------- container
    'container-block': block('meta.block.container.netplan', [
      include('attachment'),
      include('publish'),
      include('hook'),
      {
        match: `${B}(run|dns)${E}`,
        captures: { 1: { name: 'keyword.other.$1.netplan' } },
      },
    ]),
    // `network NAME [{ ... }]` inside a container: attach to a network
    attachment: {
      name: 'meta.attachment.netplan',
      begin: `${B}(network)${E}(?:[ \\t]+(?:(${PREDEFINED_NETWORKS.join('|')})|(${NAME}))${E})?`,
      beginCaptures: {
        1: { name: 'keyword.other.network.netplan' },
        2: { name: 'support.type.builtin.network.netplan' },
        3: { name: 'entity.name.type.network.netplan' },
      },
      end: '(?<=\\})|(?=[^\\s{])',
      patterns: [include('comment'), include('attachment-block')],
    },
    'attachment-block': block('meta.block.attachment.netplan', [
      {
        match: `${B}(link)${E}(?:[ \\t]+(${NAME})${E})?(?:[ \\t]+(as)${E})?(?:[ \\t]+(${NAME})${E})?`,
        captures: {
          1: { name: 'keyword.other.link.netplan' },
          2: { name: 'entity.name.function.container.netplan' },
          3: { name: 'keyword.other.as.netplan' },
          4: { name: 'variable.other.alias.netplan' },
        },
      },
      {
        match: `${B}(alias)${E}(?:[ \\t]+(${NAME})${E})?`,
        captures: {
          1: { name: 'keyword.other.alias.netplan' },
          2: { name: 'variable.other.alias.netplan' },
        },
      },
      {
        match: `${B}(ip|ip6|mac)${E}`,
        captures: { 1: { name: 'keyword.other.$1.netplan' } },
      },
    ]),
    // `publish [HOST_IP:][HOST_PORT:]PORT[/tcp|udp]`
    publish: {
      name: 'meta.publish.netplan',
      begin: `${B}(publish)${E}`,
      beginCaptures: { 1: { name: 'keyword.other.publish.netplan' } },
      end: '(?=[;#}])|$',
      patterns: [
        {
          match: `(?<![^\\s])(?:(?:(\\[)(${IPV6})(\\])|(${IPV4}))(:))?(?:(${PORT})?(:))?(${PORT})(?:(/)(?:(${PROTOCOLS.join('|')})|(${NAME})))?(?![^\\s;#}])`,
          captures: {
            1: { name: 'punctuation.definition.address.begin.netplan' },
            2: { name: 'constant.numeric.ipv6.netplan' },
            3: { name: 'punctuation.definition.address.end.netplan' },
            4: { name: 'constant.numeric.ipv4.netplan' },
            5: { name: 'punctuation.separator.port.netplan' },
            6: { name: 'constant.numeric.port.host.netplan' },
            7: { name: 'punctuation.separator.port.netplan' },
            8: { name: 'constant.numeric.port.container.netplan' },
            9: { name: 'punctuation.separator.protocol.netplan' },
            10: { name: 'support.constant.protocol.netplan' },
            11: { name: 'invalid.illegal.protocol.netplan' },
          },
        },
        include('string'),
      ],
    },
  },
};

const json = JSON.stringify(grammar, null, 2) + '\n';

if (process.argv.includes('--check')) {
  const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
  if (current !== json) {
    console.error(`${path.relative(process.cwd(), OUT)} is out of date: run \`npm run build-grammar\``);
    process.exit(1);
  }
  console.log('tmLanguage grammar is up to date');
} else {
  fs.writeFileSync(OUT, json);
  console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
}
