" Settings for netplan topology files (.net)
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal comments=:# commentstring=#\ %s
setlocal iskeyword=@,48-57,_,-,.
setlocal foldmethod=syntax foldlevel=99
setlocal expandtab shiftwidth=2 softtabstop=2

let b:undo_ftplugin = 'setlocal comments< commentstring< iskeyword< foldmethod< foldlevel< expandtab< shiftwidth< softtabstop<'
