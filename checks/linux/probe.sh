# readiness Linux probe: gathers raw facts in one run, changes nothing.
#
# Plain POSIX sh on purpose: it must run unchanged under dash, busybox ash and
# the bash 4.1 / ksh of CentOS 6 and SLES 11, locally or piped over SSH as
# `sh -s`.  It never judges anything: every section is raw command output or
# file content, framed by marker lines that checks/linux/parse.py splits on.
#
#   @@readiness@@ cmd NAME | file PATH | missing NAME   (section start)
#   @@readiness@@ end RC                               (section end)
#   @@readiness@@ done                                 (last line: the output is complete)
#
# A missing tool is a `missing` section (a recorded gap), never an error.
# Files are read with the `read` builtin where one line is enough: every fork
# counts on a host with hundreds of block devices.

LC_ALL=C
export LC_ALL
PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin:$PATH
export PATH

M='@@readiness@@'
# path PROGRAM: the program's absolute path in $_p, or nothing.  PATH is
# searched by hand: busybox's static ash answers `command -v` with its own
# applets even where no such file exists, so only a real executable file counts
# as installed, and it is what runs (never a same-named shell applet).  The
# answer is a variable, not output: `$(path x)` would fork a subshell per call.
path() {
  _p=''
  case "$1" in
    /*) if [ -f "$1" ] && [ -x "$1" ]; then _p=$1; fi; return 0 ;;
  esac
  _save_ifs=$IFS
  IFS=:
  for _d in $PATH; do
    if [ -n "$_d" ] && [ -f "$_d/$1" ] && [ -x "$_d/$1" ]; then
      IFS=$_save_ifs
      _p="$_d/$1"
      return 0
    fi
  done
  IFS=$_save_ifs
  return 0
}

# cmd NAME PROGRAM [ARGS...]: one command's stdout as a section.
# stdin is /dev/null: under `sh -s` a command must not eat the rest of the script.
cmd() {
  _n=$1
  shift
  path "$1"
  _exe=$_p
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
path timeout
if [ -n "$_p" ] && "$_p" 5 true >/dev/null 2>&1; then
  T="$_p 15"
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
echo "version=2"
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
path ip
if [ -n "$_p" ]; then
  cmd ip_addr ip -o addr show
else
  cmd ifconfig ifconfig -a
fi

begin firmware
if [ -d /sys/firmware/efi ]; then echo uefi; else echo bios; fi
end

# line1 FILE: the first line of FILE in $_v (empty when unreadable), without a fork.
line1() {
  _v=''
  if [ -r "$1" ]; then IFS= read -r _v <"$1" 2>/dev/null; fi
  return 0
}

# The SMBIOS system UUID (vSphere's vm.uuid as the guest sees it), which lets a
# guest scan be matched with its VM.  sysfs shows it to root only (mode 0400);
# dmidecode is asked only when sysfs did not answer (old kernels have no
# product_uuid file), so a root scan costs no fork.
begin product_uuid
_f=/sys/class/dmi/id/product_uuid
_v=''
if [ -r "$_f" ]; then
  line1 "$_f"; echo "sysfs=$_v"
elif [ -e "$_f" ]; then
  echo "sysfs_unreadable=1"
fi
if [ -z "$_v" ]; then
  path dmidecode
  if [ -n "$_p" ]; then echo "dmidecode=$($T "$_p" -s system-uuid </dev/null 2>/dev/null)"; else echo "dmidecode_missing=1"; fi
fi
end

# One line per block device: name, size (512-byte sectors), "virtual" for a
# device without hardware behind it (loop, ram, dm, md: no device link), vendor,
# model, SCSI WWID, and for device-mapper nodes their dm uuid, name and slaves
# (the paths of a multipath map).  No command per device: only builtins.
begin block_devices
for _d in /sys/block/*; do
  [ -e "$_d" ] || continue
  _name=${_d##*/}
  line1 "$_d/size"; _size=$_v
  if [ -e "$_d/device" ]; then _path=device; else _path=virtual; fi
  line1 "$_d/device/model"; _model=$_v
  line1 "$_d/device/vendor"; _vendor=$_v
  line1 "$_d/device/wwid"; _wwid=$_v
  _uuid=''; _dmname=''; _slaves=''
  if [ -d "$_d/dm" ]; then
    line1 "$_d/dm/uuid"; _uuid=$_v
    line1 "$_d/dm/name"; _dmname=$_v
    for _s in "$_d"/slaves/*; do [ -e "$_s" ] && _slaves="$_slaves ${_s##*/}"; done
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$_name" "$_size" "$_path" "$_vendor" "$_model" \
    "$_wwid" "$_uuid" "$_dmname" "${_slaves# }"
done
end

begin iscsi_sessions
for _s in /sys/class/iscsi_session/session*; do
  [ -d "$_s" ] || continue
  line1 "$_s/targetname"; _t=$_v
  line1 "$_s/state"; printf '%s\t%s\t%s\n' "${_s##*/}" "$_t" "$_v"
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
begin lvm_locking
if [ -r /etc/lvm/lvm.conf ]; then grep -E '^[[:space:]]*locking_type' /etc/lvm/lvm.conf 2>/dev/null; fi
end
cmd lvs lvs --noheadings --separator '|' -o vg_name,lv_name,lv_size
cmd multipath multipath -ll
cmd dmsetup dmsetup table
cmd df df -P -k

path ps
if [ -n "$_p" ] && "$_p" -e -o comm= >/dev/null 2>&1 </dev/null; then
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

# Listening TCP sockets only (state 0A), filtered on the target: a server with
# thousands of established connections sends the same few lines; and of each
# line only its local ADDRESS:PORT (14 bytes of 150), so a busy server's
# thousand listeners cost the scanner little more than a quiet one's.
begin listening_tcp
sed -n 's/^ *[0-9][0-9]*: \([0-9A-Fa-f][0-9A-Fa-f]*:[0-9A-Fa-f][0-9A-Fa-f]*\) [0-9A-Fa-f][0-9A-Fa-f]*:[0-9A-Fa-f][0-9A-Fa-f]* 0A .*/\1/p' /proc/net/tcp /proc/net/tcp6 2>/dev/null
end
# Firewall: the live rules (root), then each front end's own configuration.
path iptables-save
if [ -n "$_p" ]; then
  cmd iptables iptables-save
else
  printf '%s missing iptables\n' "$M"
  cmd iptables_s iptables -S
fi
file /etc/sysconfig/iptables
path firewall-cmd
_fw=$_p
if [ -n "$_fw" ]; then
  _state=$($T "$_fw" --state 2>/dev/null </dev/null)
  begin firewalld_state
  echo "$_state"
  end
  if [ "$_state" = running ]; then cmd firewalld firewall-cmd --list-all-zones; fi
else
  printf '%s missing firewalld_state\n' "$M"
fi
begin suse_firewall
if [ -r /etc/sysconfig/SuSEfirewall2 ]; then
  grep -E '^FW_(SERVICES_EXT_TCP|CONFIGURATIONS_EXT|SERVICES_ACCEPT_EXT|REJECT_EXT|ROUTE)=' /etc/sysconfig/SuSEfirewall2
fi
end
begin suse_firewall_services
for _f in /etc/sysconfig/SuSEfirewall2.d/services/*; do
  [ -f "$_f" ] && grep -H '^TCP=' "$_f" 2>/dev/null
done
end
file /etc/ufw/ufw.conf /etc/default/ufw /etc/ufw/user.rules /lib/ufw/user.rules

path rpm
if [ -n "$_p" ]; then
  cmd rpm rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}\n'
else
  cmd dpkg dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\t${Status}\n'
fi

cmd vmware_toolbox vmware-toolbox-cmd -v
begin agent_paths
for _p in /usr/sbin/waagent /usr/bin/vmware-toolbox-cmd /etc/vmware-tools /usr/bin/vmtoolsd /usr/sbin/NetworkManager \
          /usr/local/ASR /usr/local/InMage; do
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

# NIC bonds (teaming): the bonding driver's status files, and sysfs for the mode and members.
file /proc/net/bonding/*
begin bonds_sysfs
for _b in /sys/class/net/*/bonding; do
  [ -d "$_b" ] || continue
  _n=${_b%/bonding}
  line1 "$_b/mode"; _mode=$_v
  line1 "$_b/slaves"; printf '%s\t%s\t%s\n' "${_n##*/}" "$_mode" "$_v"
done
end

# An installed Mobility service: its version file, and only the registration keys of drscout.conf
# (configuration server address, port, https, role, version), never the passphrase files.
file /usr/local/.vx_version
begin mobility_conf
_dir=''
if [ -r /usr/local/.vx_version ]; then
  _dir=$(sed -n 's/^INSTALLATION_DIR[[:space:]]*=[[:space:]]*//p' /usr/local/.vx_version 2>/dev/null)
fi
for _c in "$_dir/etc/drscout.conf" /usr/local/ASR/Vx/etc/drscout.conf /usr/local/InMage/Vx/etc/drscout.conf; do
  if [ -f "$_c" ] && [ -r "$_c" ]; then
    echo "file=$_c"
    grep -iE '^(\[|hostname=|port=|https=|role=|version=|prod_version=)' "$_c" 2>/dev/null
    break
  fi
done
end

printf '%s done\n' "$M"
