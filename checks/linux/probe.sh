# readiness Linux probe: gathers raw facts in one run, changes nothing.
#
# Plain POSIX sh on purpose: it must run unchanged under dash, busybox ash and
# the bash 4.1 / ksh of CentOS 6 and SLES 11, locally or piped over SSH as
# `sh -s`.  It never judges anything: every section is raw command output or
# file content, framed by marker lines that checks/linux/parse.py splits on.
#
#   @@readiness@@ cmd NAME | file PATH | missing NAME   (section start)
#   @@readiness@@ end RC                               (section end)
#
# A missing tool is a `missing` section (a recorded gap), never an error.

LC_ALL=C
export LC_ALL
PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin:$PATH
export PATH

M='@@readiness@@'
# path PROGRAM: the program's absolute path, or nothing.  PATH is searched by
# hand: busybox's static ash answers `command -v` with its own applets even
# where no such file exists, so only a real executable file counts as
# installed, and it is what runs (never a same-named shell applet).
path() {
  case "$1" in
    /*) if [ -f "$1" ] && [ -x "$1" ]; then echo "$1"; fi; return ;;
  esac
  _save_ifs=$IFS
  IFS=:
  for _d in $PATH; do
    if [ -n "$_d" ] && [ -f "$_d/$1" ] && [ -x "$_d/$1" ]; then
      IFS=$_save_ifs
      echo "$_d/$1"
      return
    fi
  done
  IFS=$_save_ifs
}

# cmd NAME PROGRAM [ARGS...]: one command's stdout as a section.
# stdin is /dev/null: under `sh -s` a command must not eat the rest of the script.
cmd() {
  _n=$1
  shift
  _exe=$(path "$1")
  if [ -n "$_exe" ]; then
    shift
    printf '%s cmd %s\n' "$M" "$_n"
    $T "$_exe" "$@" </dev/null 2>/dev/null
    printf '\n%s end %s\n' "$M" "$?"
  else
    printf '%s missing %s\n' "$M" "$_n"
  fi
}

# Commands that can block (multipath, dead mounts) run under timeout when the
# target has one; busybox and coreutils both accept `timeout SECONDS CMD`.
T=''
_timeout=$(path timeout)
if [ -n "$_timeout" ] && "$_timeout" 5 true >/dev/null 2>&1; then
  T="$_timeout 15"
fi

# file PATH...: the content of every readable file given.
file() {
  for _f in "$@"; do
    if [ -f "$_f" ] && [ -r "$_f" ]; then
      printf '%s file %s\n' "$M" "$_f"
      cat "$_f" 2>/dev/null
      printf '\n%s end %s\n' "$M" "$?"
    fi
  done
}

# shell NAME: the output of the shell code that follows on stdin-less lines.
begin() { printf '%s cmd %s\n' "$M" "$1"; }
end() { printf '\n%s end %s\n' "$M" "${1:-0}"; }

begin probe
echo "version=1"
echo "uid=$(id -u 2>/dev/null)"
echo "user=$(id -un 2>/dev/null)"
echo "epoch=$(date -u +%s 2>/dev/null)"
echo "shell=${BASH_VERSION:+bash $BASH_VERSION}"
end

cmd kernel uname -r
cmd machine uname -m
cmd hostname hostname
file /proc/sys/kernel/hostname

file /etc/os-release /etc/redhat-release /etc/centos-release /etc/oracle-release \
     /etc/enterprise-release /etc/SuSE-release /etc/lsb-release /etc/debian_version \
     /etc/system-release

file /etc/hosts
# root's shell, and only whether its password is set or locked: never the hash itself.
begin root_account
sed -n 's/^root:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:\(.*\)$/shell=\1/p' /etc/passwd 2>/dev/null
if [ -r /etc/shadow ]; then
  case "$(sed -n 's/^root:\([^:]\{0,1\}\).*/\1/p' /etc/shadow 2>/dev/null)" in
    '!'|'*') echo "password=locked" ;;
    '') echo "password=empty" ;;
    *) echo "password=set" ;;
  esac
fi
end
if [ -n "$(path ip)" ]; then
  cmd ip_addr ip -o addr show
else
  cmd ifconfig ifconfig -a
fi

begin firmware
if [ -d /sys/firmware/efi ]; then echo uefi; else echo bios; fi
end

begin block_devices
for _d in /sys/block/*; do
  [ -e "$_d" ] || continue
  _name=${_d##*/}
  _size=$(cat "$_d/size" 2>/dev/null)
  _path=$(readlink -f "$_d" 2>/dev/null)
  _model=$(cat "$_d/device/model" 2>/dev/null)
  _vendor=$(cat "$_d/device/vendor" 2>/dev/null)
  printf '%s\t%s\t%s\t%s\t%s\n' "$_name" "$_size" "$_path" "$_vendor" "$_model"
done
end

begin disk_ids
for _l in /dev/disk/by-id/*; do
  [ -e "$_l" ] || continue
  printf '%s\t%s\n' "${_l##*/}" "$(readlink -f "$_l" 2>/dev/null)"
done
end

begin cciss
if [ -d /dev/cciss ]; then ls /dev/cciss 2>/dev/null; fi
if [ -d /proc/driver/cciss ]; then ls /proc/driver/cciss 2>/dev/null; fi
end

file /proc/mounts /proc/swaps /proc/mdstat
begin modules
grep -E '^(dm_multipath|dm_mod|cciss|hpsa|vxdmp|vxio|vxfs|emcp|zfs|btrfs|reiserfs|xfs|ext4|ext3) ' /proc/modules 2>/dev/null
end
begin volume_managers
for _p in /dev/vx /etc/vx /etc/powermt.custom /sbin/powermt /dev/emcpowera /etc/multipath.conf /etc/lvm/lvm.conf; do
  if [ -e "$_p" ]; then echo "$_p"; fi
done
end
cmd lvs lvs --noheadings --separator '|' -o vg_name,lv_name,lv_size
cmd multipath multipath -ll
cmd dmsetup dmsetup table
cmd df df -P -k

_ps=$(path ps)
if [ -n "$_ps" ] && "$_ps" -e -o comm= >/dev/null 2>&1 </dev/null; then
  cmd processes ps -e -o comm=
else
  begin processes
  for _s in /proc/[0-9]*/stat; do
    sed -n 's/^[0-9]* (\([^)]*\)).*/\1/p' "$_s" 2>/dev/null
  done
  end
fi

if [ -x /usr/sbin/sshd ]; then
  cmd sshd_effective /usr/sbin/sshd -T
fi
file /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf

cmd systemctl_ssh systemctl is-enabled sshd.service ssh.service
cmd chkconfig_sshd chkconfig --list sshd
begin rc_links
for _r in /etc/rc.d/rc3.d /etc/rc.d/rc5.d /etc/rc3.d /etc/rc5.d /etc/rc2.d /etc/init.d/rc3.d /etc/init.d/rc5.d; do
  if [ -d "$_r" ]; then
    for _l in "$_r"/S*; do [ -e "$_l" ] && echo "$_l"; done
  fi
done
end
file /etc/inittab /etc/init/ssh.conf

file /proc/net/tcp /proc/net/tcp6
cmd iptables iptables-save
cmd firewalld firewall-cmd --list-services
begin suse_firewall
if [ -r /etc/sysconfig/SuSEfirewall2 ]; then
  grep -E '^FW_(SERVICES_EXT_TCP|CONFIGURATIONS_EXT|ROUTE)=' /etc/sysconfig/SuSEfirewall2
fi
end
cmd ufw ufw status

if [ -n "$(path rpm)" ]; then
  cmd rpm rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n'
else
  cmd dpkg dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${Status}\n'
fi

cmd vmware_toolbox vmware-toolbox-cmd -v
begin agent_paths
for _p in /usr/sbin/waagent /usr/bin/vmware-toolbox-cmd /etc/vmware-tools /usr/bin/vmtoolsd /usr/sbin/NetworkManager; do
  if [ -e "$_p" ]; then echo "$_p"; fi
done
end

begin ifcfg
for _f in /etc/sysconfig/network-scripts/ifcfg-* /etc/sysconfig/network/ifcfg-*; do
  [ -f "$_f" ] || continue
  printf '%s\t%s\n' "$_f" "$(grep -E '^(DEVICE|BOOTPROTO|IPADDR|ONBOOT)=' "$_f" 2>/dev/null | tr '\n' ' ')"
done
end
file /etc/network/interfaces
file /etc/sysconfig/i18n /etc/locale.conf /etc/default/locale
