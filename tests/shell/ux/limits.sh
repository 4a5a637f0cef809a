# Runaway scripts stop with a message and are rolled back: an endless push
# loop at the operation limit (pushes cost the same however long the list:
# no re-measuring), a string or list that doubles at the memory limit.
before=$(snapshot)
stops() { # stops NAME SCRIPT MESSAGE
  printf 'netns("busy");\n%s\n' "$2" >/run/$1.rhai
  local rc=0
  timeout 300 plumb run /run/$1.rhai 2>/run/$1.err || rc=$?
  cat /run/$1.err
  [ $rc = 1 ] || die "$1: exit status $rc (124: not stopped in 300 s)"
  grep -F "$3" /run/$1.err >/dev/null || die "$1: no '$3'"
  [ "$before" = "$(snapshot)" ] || die "$1 was not rolled back"
}
stops push 'let a = []; loop { a.push(1234567890); }' 'more than 20000000 operations'
stops string 'let s = "x"; loop { s += s; }' 'more than 1024 MiB of memory'
stops list 'let a = [1]; loop { a += a; }' 'more than 1024 MiB of memory'
echo ok
