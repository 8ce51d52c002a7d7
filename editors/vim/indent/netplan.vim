" Indentation for netplan topology files (.net): one level per open `{`
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=GetNetplanIndent(v:lnum)
setlocal indentkeys=0{,0},0#,!^F,o,O
setlocal autoindent
let b:undo_indent = 'setlocal indentexpr< indentkeys< autoindent<'

if exists('*GetNetplanIndent')
  finish
endif

" the braces of a line outside strings and comments: [opened, closed]
function! s:Braces(line) abort
  let l:code = substitute(a:line, '"\%([^"\\]\|\\.\)*"', '', 'g')
  let l:code = substitute(l:code, '#.*$', '', '')
  let l:open = len(substitute(l:code, '[^{]', '', 'g'))
  let l:close = len(substitute(l:code, '[^}]', '', 'g'))
  return [l:open, l:close]
endfunction

function! GetNetplanIndent(lnum) abort
  let l:prev = prevnonblank(a:lnum - 1)
  if l:prev == 0
    return 0
  endif
  let l:ind = indent(l:prev)
  let [l:open, l:close] = s:Braces(getline(l:prev))
  " a line that starts with `}` was already outdented
  if getline(l:prev) =~# '^\s*}'
    let l:close -= 1
  endif
  let l:ind += shiftwidth() * (l:open - l:close)
  if getline(a:lnum) =~# '^\s*}'
    let l:ind -= shiftwidth()
  endif
  return max([l:ind, 0])
endfunction
