" netplan topology files
autocmd BufRead,BufNewFile *.net setlocal filetype=netplan
