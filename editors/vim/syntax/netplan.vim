" Vim syntax file
" Language:     netplan topology language (.net)
" Maintainer:   the netplan authors
"
" Keep in step with the language grammar (lang/src/grammar.pest): the keyword
" cross-check in editors/ fails when a keyword of the language is missing here.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
" names are [a-zA-Z0-9][a-zA-Z0-9_.-]*
syn iskeyword @,48-57,_,-,.

" ------------------------------------------------------------------ comments
syn keyword netplanTodo contained TODO FIXME XXX NOTE
syn match   netplanComment "#.*$" contains=netplanTodo,@Spell

" ------------------------------------------------------------------ literals
syn match   netplanEscape contained +\\["\\]+
syn match   netplanBadEscape contained +\\[^"\\]+
syn region  netplanString start=+"+ skip=+\\[\\"]+ end=+"+ end=+$+ oneline contains=netplanEscape,netplanBadEscape
syn match   netplanInteger "\<\d\+\>"
syn keyword netplanBoolean on off

" IPv6 first: the later definitions win when two matches start at one place
syn match   netplanIPv6 "\v%(^|[^0-9A-Za-z_.:\-])@1<=\x{0,4}%(:\x{0,4}){2,7}%(\.\d{1,3}){0,3}%([0-9A-Za-z_.:\-]@!)"
syn match   netplanIPv6 "\v%(^|[^0-9A-Za-z_.:\-])@1<=\x{0,4}%(:\x{0,4}){2,7}%(/\d)@="
syn match   netplanIPv4 "\v<%(\d{1,3}\.){3}\d{1,3}>"
syn match   netplanPrefixLength "\v%(\x|:)@1<=/\d{1,3}>" contains=netplanCidrSlash
syn match   netplanCidrSlash contained "/"
syn match   netplanMAC "\v<\x\x%([:-]\x\x){5}>"

syn match   netplanOperator "="
syn match   netplanDelimiter ";"
syn match   netplanBrace "[{}]"

" ------------------------------------------------------------------ declarations
syn keyword netplanDeclaration network nextgroup=netplanNetworkName,netplanBuiltinNetwork skipwhite
syn keyword netplanDeclaration container nextgroup=netplanContainerName skipwhite
syn match   netplanNetworkName contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*"
syn match   netplanBuiltinNetwork contained "\<\%(bridge\|host\|none\)\>"
syn match   netplanContainerName contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*"

" ------------------------------------------------------------------ statements
syn keyword netplanKeyword subnet ipv6 gateway ip-range mtu icc masquerade host-ip internal
syn keyword netplanKeyword ip ip6 mac dns run
syn keyword netplanKeyword driver nextgroup=netplanDriver,netplanBadValue skipwhite
syn keyword netplanKeyword alias-mode nextgroup=netplanAliasMode,netplanBadValue skipwhite
syn keyword netplanKeyword aux nextgroup=netplanAuxName skipwhite
syn keyword netplanKeyword bridge nextgroup=netplanInterface skipwhite
syn keyword netplanKeyword label nextgroup=netplanLabelKey skipwhite
syn keyword netplanKeyword option nextgroup=netplanOptionKey skipwhite
syn keyword netplanKeyword alias nextgroup=netplanAliasName skipwhite
syn keyword netplanKeyword link nextgroup=netplanContainerRef skipwhite
syn keyword netplanKeyword publish nextgroup=netplanPublishSpec skipwhite
syn keyword netplanKeyword hook nextgroup=netplanEvent,netplanBadEvent skipwhite

syn match   netplanBadValue contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*"
syn keyword netplanDriver contained bridge overlay
syn keyword netplanAliasMode contained first all
syn match   netplanAuxName contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*"
syn match   netplanInterface contained "[a-zA-Z0-9_.-]\+"
syn match   netplanLabelKey contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*"
syn region  netplanOptionKey contained start=+"+ skip=+\\[\\"]+ end=+"+ end=+$+ oneline contains=netplanEscape,netplanBadEscape
syn match   netplanAliasName contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*"
syn match   netplanContainerRef contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*" nextgroup=netplanAs skipwhite
syn keyword netplanAs contained as nextgroup=netplanAliasName skipwhite

" hook EVENT "path/to/script.rhai"
syn match   netplanBadEvent contained "\<[a-zA-Z0-9][a-zA-Z0-9_.-]*" nextgroup=netplanHookPath skipwhite
syn keyword netplanEvent contained before-apply after-apply before-destroy after-destroy nextgroup=netplanHookPath skipwhite
syn keyword netplanEvent contained network-created network-removed container-up container-down plan nextgroup=netplanHookPath skipwhite
syn region  netplanHookPath contained start=+"+ skip=+\\[\\"]+ end=+"+ end=+$+ oneline contains=netplanEscape,netplanBadEscape

" publish [HOST_IP:][HOST_PORT:]PORT[/tcp|udp]
syn match   netplanPublishSpec contained "[^ \t;#{}]\+" contains=netplanPort,netplanPublishIPv4,netplanPublishIPv6,netplanPortSep,netplanProtocol
syn match   netplanPort contained "\d\+\%(-\d\+\)\?"
syn match   netplanPortSep contained ":"
syn match   netplanPublishIPv4 contained "\v%(\d{1,3}\.){3}\d{1,3}"
syn match   netplanPublishIPv6 contained "\[[0-9A-Fa-f:.]*\]" contains=netplanAddressBracket
syn match   netplanAddressBracket contained "[][]"
syn match   netplanProtocol contained "/\zs[a-z]\+"

" ------------------------------------------------------------------ folding
syn region  netplanBlock matchgroup=netplanBrace start="{" end="}" transparent fold

" ------------------------------------------------------------------ colours
hi def link netplanTodo            Todo
hi def link netplanComment         Comment
hi def link netplanString          String
hi def link netplanEscape          SpecialChar
hi def link netplanBadEscape       Error
hi def link netplanInteger         Number
hi def link netplanBoolean         Boolean
hi def link netplanIPv4            Number
hi def link netplanIPv6            Number
hi def link netplanPrefixLength    Number
hi def link netplanCidrSlash       Delimiter
hi def link netplanMAC             Number
hi def link netplanOperator        Operator
hi def link netplanDelimiter       Delimiter
hi def link netplanBrace           Delimiter
hi def link netplanDeclaration     Structure
hi def link netplanNetworkName     Type
hi def link netplanBuiltinNetwork  Constant
hi def link netplanContainerName   Function
hi def link netplanKeyword         Keyword
hi def link netplanBadValue        Error
hi def link netplanDriver          Constant
hi def link netplanAliasMode       Constant
hi def link netplanAuxName         Identifier
hi def link netplanInterface       Identifier
hi def link netplanLabelKey        Identifier
hi def link netplanOptionKey       Identifier
hi def link netplanAliasName       Label
hi def link netplanContainerRef    Function
hi def link netplanAs              Keyword
hi def link netplanBadEvent        Error
hi def link netplanEvent           Constant
hi def link netplanHookPath        Special
hi def link netplanPort            Number
hi def link netplanPortSep         Delimiter
hi def link netplanPublishIPv4     Number
hi def link netplanPublishIPv6     Number
hi def link netplanAddressBracket  Delimiter
hi def link netplanProtocol        Constant

let b:current_syntax = 'netplan'

let &cpo = s:cpo_save
unlet s:cpo_save
