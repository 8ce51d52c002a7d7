" Checks the Vim syntax against assertion comments in test/*.net:
"   a line `#   ^^^ netplanGroup` asserts that the columns under the carets of the
"   last line that is no assertion have that syntax group; `# <--- group` does the
"   same from the first column. Run: vim -Nu NONE -i NONE -es -S test/check.vim
set nocompatible
let s:root = expand('<sfile>:p:h:h')
execute 'set runtimepath^=' . fnameescape(s:root)
filetype plugin indent on
syntax on

let s:failures = []
let s:checked = 0
for s:file in glob(s:root . '/test/*.net', 0, 1)
  execute 'silent edit ' . fnameescape(s:file)
  if &filetype !=# 'netplan'
    call add(s:failures, s:file . ': filetype is "' . &filetype . '", not netplan')
    continue
  endif
  let s:src = 0
  for s:lnum in range(1, line('$'))
    let s:line = getline(s:lnum)
    let s:m = matchlist(s:line, '^#\( *\)\(\^\+\) \+\(\S\+\)\s*$')
    let s:first = 0
    if empty(s:m)
      let s:m = matchlist(s:line, '^# <\(-\+\) \+\(\S\+\)\s*$')
      if empty(s:m)
        let s:src = s:lnum
        continue
      endif
      let [s:from, s:count, s:want] = [1, len(s:m[1]), s:m[2]]
    else
      let [s:from, s:count, s:want] = [2 + len(s:m[1]), len(s:m[2]), s:m[3]]
    endif
    for s:col in range(s:from, s:from + s:count - 1)
      let s:checked += 1
      let s:got = synIDattr(synID(s:src, s:col, 1), 'name')
      if s:got !=# s:want
        call add(s:failures, printf('%s:%d:%d: want %s, got %s in: %s',
              \ fnamemodify(s:file, ':t'), s:src, s:col, s:want,
              \ empty(s:got) ? '(none)' : s:got, getline(s:src)))
        break
      endif
    endfor
  endfor
endfor

if s:checked == 0
  call add(s:failures, 'no assertion was checked')
endif
for s:f in s:failures
  verbose echo s:f
endfor
verbose echo printf('vim syntax: %d columns checked, %d failures', s:checked, len(s:failures))
execute empty(s:failures) ? 'qall!' : 'cquit!'
