" Vim script: unquoted values are expressions.
let s:netrw_passwd = s:netrw_hup[host].passwd
let pwd = a:dict.istemp ? a:dict.tmpdir : ''
