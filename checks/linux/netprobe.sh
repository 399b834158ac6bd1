# readiness network probe: DNS, TCP, HTTP(S) and the clock, measured FROM the target.
#
# Sent after probe.sh in the same `sh -s` (one round trip) when a rule needs the
# `connectivity` or `lan` facts of an SSH target: the jump host's own network
# says nothing about whether an old CentOS 6 box can reach Azure or the
# management server.  Plain POSIX sh, nothing installed, nothing written: it
# uses what the target has (bash /dev/tcp, curl, wget, nc, getent, nslookup),
# and every step runs under a time limit.  checks/linux/netprobe.py prepends
# the NP_* inputs and parses the tab-separated records this prints:
#
#   np tools  NAME=0|1 ...
#   np dns    HOST OK ADDRESSES MS ERROR TOOL
#   np tcp    KIND KEY HOST PORT OK MS ERROR TOOL
#   np http   KEY STATUS MS ERROR EPOCH TLS TOOL DATE     (TLS: ok|fail|none|unverified)
#   np env    PROXY_SOURCE PROXY
#   np done   KIND KEY        (a check's records are complete: printed with them, in one write)
#   @@readiness@@ net end     (the trailer: every check finished; without it the whole probe is unknown)
#
# Inputs: NP_T (seconds per step), NP_PROXY (configured proxy, a user name at
# most, or empty), NP_PROXY_SET (1 when a proxy was configured, even empty =
# none), NP_CURL_CFG (curl config lines for that proxy, password included: fed
# to curl on stdin with -K -), NP_PROXY_URL (the same proxy with its password,
# for wget's environment), NP_JOBS, one check per line: "endpoint KEY URL HOST
# PORT", "port HOST PORT", "lan HOST PORT", "vcenter HOST PORT", "time URL".  No secret is ever put
# on a command line: `ps` on the target shows none.

printf '%s net begin\n' '@@readiness@@'
np_has() { command -v "$1" >/dev/null 2>&1; }
NP_BASH=''
for _b in /bin/bash /usr/bin/bash; do [ -x "$_b" ] && NP_BASH=$_b && break; done
NP_TIMEOUT=''
if np_has timeout && timeout 5 true >/dev/null 2>&1; then NP_TIMEOUT=timeout; fi
np_has curl && NP_CURL=1 || NP_CURL=0
np_has wget && NP_WGET=1 || NP_WGET=0
NP_NC=''
if np_has nc; then
  if nc -h 2>&1 | grep -q -- ' -z'; then NP_NC=z; elif nc --help 2>&1 | grep -q -- '-e PROG'; then NP_NC=e; fi
fi
# Debian's busybox wget has no -T (and crashes on it): time it out from outside instead.
NP_WGET_T=''
if [ "$NP_WGET" = 1 ] && wget --help 2>&1 | grep -q -- '--timeout'; then NP_WGET_T=1; fi
np_has getent && NP_GETENT=1 || NP_GETENT=0
np_has nslookup && NP_NSLOOKUP=1 || NP_NSLOOKUP=0
printf 'np\ttools\tbash=%s\tcurl=%s\twget=%s\tnc=%s\tgetent=%s\tnslookup=%s\ttimeout=%s\n' \
  "${NP_BASH:+1}" "$NP_CURL" "$NP_WGET" "${NP_NC:+1}" "$NP_GETENT" "$NP_NSLOOKUP" "${NP_TIMEOUT:+1}"

# Milliseconds from /proc/uptime (busybox date has no %N), else whole seconds.
np_ms() {
  if read _u _rest </proc/uptime 2>/dev/null; then
    echo $(($(expr "${_u%.*}${_u#*.}" + 0) * 10))
  else
    echo $(($(date +%s) * 1000))
  fi
}
# np_limit SECONDS CMD...: run CMD, killed after SECONDS (exit 124), even without timeout(1).
np_limit() {
  _s=$1
  shift
  if [ -n "$NP_TIMEOUT" ]; then
    timeout "$_s" "$@"
    _r=$?
  else
    "$@" &
    _p=$!
    ( sleep "$_s"; kill "$_p" 2>/dev/null ) >/dev/null 2>&1 &
    _w=$!
    wait "$_p"
    _r=$?
    kill "$_w" 2>/dev/null
  fi
  # coreutils timeout says 124, busybox's 143 (TERM): both mean "killed at the limit".
  [ "$_r" = 143 ] && _r=124
  return "$_r"
}
np_clean() { tr '\t\n\r' '   ' | cut -c1-240; }

# np_dns HOST: the addresses the target's resolver gives.
np_dns() {
  _t0=$(np_ms)
  case $1 in
    *[!0-9.]*) ;;
    *) printf 'np\tdns\t%s\t1\t%s\t0\t\t%s\n' "$1" "$1" literal; return ;;
  esac
  if [ "$NP_GETENT" = 1 ]; then
    _o=$(np_limit "$NP_T" getent ahosts "$1" 2>&1 || np_limit "$NP_T" getent hosts "$1" 2>&1)
    _a=$(printf '%s\n' "$_o" | awk '$1 ~ /^[0-9a-fA-F.:]+$/ && !s[$1]++ {printf "%s%s", c, $1; c=","}')
    _tool=getent
  elif [ "$NP_NSLOOKUP" = 1 ]; then
    _o=$(np_limit "$NP_T" nslookup "$1" 2>&1)
    _a=$(printf '%s\n' "$_o" | awk '/^Name:/ {n=1} n && /^Address/ {sub(/^Address[ 0-9]*:[ \t]*/, ""); \
      sub(/[ \t].*/, ""); if (!s[$0]++) {printf "%s%s", c, $0; c=","}}')
    _tool=nslookup
  else
    printf 'np\tdns\t%s\t\t\t0\tno resolver tool (getent, nslookup) on the target\tnone\n' "$1"
    return
  fi
  _t1=$(np_ms)
  if [ -n "$_a" ]; then
    printf 'np\tdns\t%s\t1\t%s\t%s\t\t%s\n' "$1" "$_a" "$((_t1 - _t0))" "$_tool"
  else
    printf 'np\tdns\t%s\t0\t\t%s\t%s\t%s\n' "$1" "$((_t1 - _t0))" "$(printf '%s' "$_o" | np_clean)" "$_tool"
  fi
}

# np_tcp KIND KEY HOST PORT: can the target open a TCP connection?
np_tcp() {
  _t0=$(np_ms)
  _err=''
  if [ -n "$NP_BASH" ]; then
    _tool=bash
    _err=$(np_limit "$NP_T" "$NP_BASH" -c 'exec 3<>"/dev/tcp/$0/$1"' "$3" "$4" 2>&1)
    _rc=$?
  elif [ "$NP_CURL" = 1 ]; then
    _tool=curl
    _c=$(curl -s -o /dev/null --noproxy '*' --connect-timeout "$NP_T" -m "$NP_T" -w '%{time_connect}' \
      "http://$3:$4/" 2>/dev/null)
    _rc=$?
    case $_c in
      0.000*|'') [ "$_rc" = 0 ] && _rc=7 ;;
      *) _rc=0 ;;
    esac
    [ "$_rc" = 7 ] && _err='connection failed (curl exit 7)'
  elif [ -n "$NP_NC" ]; then
    # OpenBSD/nmap nc: -z (connect only); busybox nc: -e true (exits as soon as it is connected).
    _tool=nc
    if [ "$NP_NC" = z ]; then
      _err=$(np_limit "$((NP_T + 1))" nc -z -w "$NP_T" "$3" "$4" </dev/null 2>&1 >/dev/null)
    else
      _err=$(np_limit "$((NP_T + 1))" nc -w "$NP_T" "$3" "$4" -e true </dev/null 2>&1 >/dev/null)
    fi
    _rc=$?
  else
    printf 'np\ttcp\t%s\t%s\t%s\t%s\t\t0\tno TCP client (bash, curl, nc) on the target\tnone\n' "$1" "$2" "$3" "$4"
    return
  fi
  _t1=$(np_ms)
  if [ "$_rc" = 0 ]; then
    printf 'np\ttcp\t%s\t%s\t%s\t%s\t1\t%s\t\t%s\n' "$1" "$2" "$3" "$4" "$((_t1 - _t0))" "$_tool"
  else
    [ "$_rc" = 124 ] && _err="timed out after ${NP_T} s"
    [ -z "$_err" ] && _err="exit $_rc"
    printf 'np\ttcp\t%s\t%s\t%s\t%s\t0\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$((_t1 - _t0))" \
      "$(printf '%s' "$_err" | np_clean)" "$_tool"
  fi
}

# The configured proxy (or none) for wget, through its environment (it reads user:password from the
# URL there); called inside the $(...) that runs wget, so it changes nothing else.
np_wget_proxy() {
  [ "$NP_PROXY_SET" = 1 ] || return 0
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY
  if [ -n "$NP_PROXY_URL" ]; then
    http_proxy=$NP_PROXY_URL
    https_proxy=$NP_PROXY_URL
    export http_proxy https_proxy
  fi
}

# np_http KEY URL: one GET (no redirects), its status, Date header and the target clock right after.
np_http() {
  _key=$1
  _url=$2
  _t0=$(np_ms)
  _date=''
  _status=''
  _err=''
  _tls=none
  case $2 in https:*) _tls=fail ;; esac
  if [ "$NP_CURL" = 1 ]; then
    _tool=curl
    set -- -sS -o /dev/null -D - --connect-timeout "$NP_T" -m "$((NP_T * 2))" -A readiness \
      -w 'NP-HTTP-STATUS %{http_code} %{ssl_verify_result}\n'  # (a leading @ would name a format file)
    if [ "$NP_PROXY_SET" = 1 ]; then
      _o=$(printf '%s\n' "$NP_CURL_CFG" | curl -K - "$@" "$_url" 2>&1)
    else
      _o=$(curl "$@" "$_url" 2>&1)
    fi
    _rc=$?
    _epoch=$(date -u +%s)
    _status=$(printf '%s\n' "$_o" | sed -n 's/^NP-HTTP-STATUS \([0-9]*\) .*/\1/p' | tail -n 1)
    [ "$_status" = 000 ] && _status=''
    _date=$(printf '%s\n' "$_o" | sed -n 's/^[Dd][Aa][Tt][Ee]:[ ]*//p' | tr -d '\r' | tail -n 1)
    case $_rc in
      0) [ "$_tls" = fail ] && _tls=ok ;;
      35|51|58|60|77|80|83|90|91) _err=$(printf '%s\n' "$_o" | grep '^curl' | np_clean) ;;
      *)
        _err=$(printf '%s\n' "$_o" | grep '^curl' | np_clean)
        if [ -n "$_status" ]; then [ "$_tls" = fail ] && _tls=ok; else _tls=none; fi ;;
    esac
    [ -z "$_err" ] && [ "$_rc" != 0 ] && _err="curl exit $_rc"
  elif [ "$NP_WGET" = 1 ]; then
    _tool=wget
    if [ -n "$NP_WGET_T" ]; then
      _o=$(np_wget_proxy; np_limit "$((NP_T * 2))" wget -S -O /dev/null -T "$NP_T" -t 1 -U readiness "$_url" 2>&1)
    else
      _o=$(np_wget_proxy; np_limit "$((NP_T * 2))" wget -S -O /dev/null -U readiness "$_url" 2>&1)
    fi
    _rc=$?
    _epoch=$(date -u +%s)
    _status=$(printf '%s\n' "$_o" | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | head -n 1)
    _date=$(printf '%s\n' "$_o" | sed -n 's/^ *[Dd][Aa][Tt][Ee]:[ ]*//p' | tr -d '\r' | head -n 1)
    [ "$_rc" = 124 ] && [ -z "$_status" ] && _err="timed out after $((NP_T * 2)) s"
    [ -z "$_status" ] && [ -z "$_err" ] && _err=$(printf '%s\n' "$_o" | grep -i -E 'error|fail|refused|unable|timed' | head -n 2 | np_clean)
    [ -z "$_status" ] && [ -z "$_err" ] && _err="wget exit $_rc"
    # GNU wget verifies certificates; busybox wget does not: say so rather than claim a verified TLS.
    if [ -n "$_status" ] && [ "$_tls" = fail ]; then
      if wget --help 2>&1 | grep -q -- '--no-check-certificate' && ! wget --help 2>&1 | grep -q BusyBox; then
        _tls=ok
      else
        _tls=unverified
      fi
    fi
  else
    printf 'np\thttp\t%s\t\t0\tno HTTP client (curl, wget) on the target\t\tnone\tnone\t\n' "$_key"
    return
  fi
  _t1=$(np_ms)
  printf 'np\thttp\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$_key" "$_status" "$((_t1 - _t0))" "$_err" "$_epoch" \
    "$_tls" "$_tool" "$_date"
}

# One endpoint: DNS, then TCP to the port (directly, or to the proxy), then HTTP.
np_endpoint() {
  np_dns "$3"
  if [ "$NP_PROXY_SET" = 1 ] && [ -n "$NP_PROXY" ]; then
    _ph=${NP_PROXY#*://}; _ph=${_ph#*@}; _ph=${_ph%%/*}
    np_tcp proxy "$1" "${_ph%:*}" "${_ph##*:}"
  else
    np_tcp endpoint "$1" "$3" "$4"
  fi
  np_http "$1" "$2"
}

if [ "$NP_PROXY_SET" = 1 ]; then
  printf 'np\tenv\tconfigured\t%s\n' "$NP_PROXY"
elif [ -n "${https_proxy:-${HTTPS_PROXY:-${http_proxy:-$HTTP_PROXY}}}" ]; then
  printf 'np\tenv\tenvironment\t%s\n' "${https_proxy:-${HTTPS_PROXY:-${http_proxy:-$HTTP_PROXY}}}"
else
  printf 'np\tenv\tnone\t\n'
fi

# Each check runs in its own background job and prints its records at once
# (short writes to a pipe are atomic), so the probe takes as long as the slowest check.
printf '%s\n' "$NP_JOBS" | {
  while read -r _kind _a _b _c _d; do
    case $_kind in
      endpoint) ( _r=$(np_endpoint "$_a" "$_b" "$_c" "$_d"); printf '%s\nnp\tdone\tendpoint\t%s\n' "$_r" "$_a" ) & ;;
      port|lan|vcenter) ( _r=$(np_tcp "$_kind" "$_a:$_b" "$_a" "$_b"); printf '%s\nnp\tdone\t%s\t%s\n' "$_r" "$_kind" "$_a:$_b" ) & ;;
      time) ( _r=$(np_http time "$_a"); printf '%s\nnp\tdone\ttime\ttime\n' "$_r" ) & ;;
    esac
  done
  wait
}
printf '%s net end\n' '@@readiness@@'
