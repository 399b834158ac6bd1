# readiness Windows probe. PowerShell 2.0 (Windows Server 2008 R2 SP1) and later.
#
# Read-only: it queries WMI, the registry, .NET and a few read-only tools
# (netstat, bcdedit /enum, w32tm /query); it installs, writes and changes nothing.
# It only opens outbound connections for the network checks it is given.
#
# Output is framed and pure ASCII, so that no console code page can mangle it:
#   ==readiness-windows-probe 2
#   ==section NAME ok            then one line: the section as JSON
#   ==section NAME error         then one line: the error message as a JSON string
#   ==end N                      the trailer: N sections were written (output without it was cut short)
# JSON is written by Write-Json below (PowerShell 2.0 has no ConvertTo-Json): every
# string is escaped character by character, everything outside printable ASCII as \uXXXX,
# numbers in the invariant culture (a German server writes 1,5 otherwise); $null items of a list
# are left out (a failed lookup inside @(...) must not become [null]).
#
# PowerShell 2.0 rules this file follows (2008 R2): every foreach iterates over @(...), because 2.0
# runs a foreach body once with $null over a $null value; nothing reads [Console]::In (2.0 drains
# redirected stdin into the pipeline, so the script comes in over -EncodedCommand or $input);
# no enum cast of a value .NET 2.0 lacks ([Net.SecurityProtocolType]3072 throws there).
#
# Input: $ReadinessInput, set by the collector in a line before this script, holds
# base64 of tab-separated "key<TAB>value..." lines (only base64 characters are ever
# spliced into the script; values are read as data, never evaluated).

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$WarningPreference = 'SilentlyContinue'
$Invariant = [Globalization.CultureInfo]::InvariantCulture

function Write-Line([string]$text) { [Console]::Out.WriteLine($text) }

function Get-JsonString([string]$s) {
    $sb = New-Object Text.StringBuilder
    [void]$sb.Append('"')
    foreach ($c in @($s.ToCharArray())) {
        $n = [int]$c
        if ($n -eq 34) { [void]$sb.Append('\"') }
        elseif ($n -eq 92) { [void]$sb.Append('\\') }
        elseif ($n -lt 32 -or $n -gt 126) { [void]$sb.Append('\u'); [void]$sb.Append($n.ToString('x4')) }
        else { [void]$sb.Append($c) }
    }
    [void]$sb.Append('"')
    return $sb.ToString()
}

function Get-Json($v) {
    if ($null -eq $v) { return 'null' }
    if ($v -is [bool]) { if ($v) { return 'true' } else { return 'false' } }
    if ($v -is [double] -or $v -is [single]) {
        if ([double]::IsNaN($v) -or [double]::IsInfinity($v)) { return 'null' }
        return $v.ToString('R', $Invariant)
    }
    if ($v -is [int] -or $v -is [long] -or $v -is [uint32] -or $v -is [uint64] -or $v -is [int16] -or
        $v -is [uint16] -or $v -is [byte] -or $v -is [sbyte] -or $v -is [decimal]) {
        return $v.ToString($Invariant)
    }
    if ($v -is [string] -or $v -is [char]) { return (Get-JsonString ([string]$v)) }
    if ($v -is [DateTime]) { return (Get-JsonString ($v.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', $Invariant))) }
    if ($v -is [Collections.IDictionary]) {
        $parts = New-Object Collections.ArrayList
        foreach ($k in @($v.Keys)) { [void]$parts.Add((Get-JsonString ([string]$k)) + ':' + (Get-Json $v[$k])) }
        return '{' + [string]::Join(',', [string[]]$parts.ToArray()) + '}'
    }
    if ($v -is [Collections.IEnumerable]) {
        $parts = New-Object Collections.ArrayList
        foreach ($item in @($v)) { if ($null -ne $item) { [void]$parts.Add((Get-Json $item)) } }
        return '[' + [string]::Join(',', [string[]]$parts.ToArray()) + ']'
    }
    return (Get-JsonString ([string]$v))
}

function Invoke-Section([string]$name, [scriptblock]$body) {
    try {
        $value = & $body
        $json = Get-Json $value
        Write-Line ('==section ' + $name + ' ok')
        Write-Line $json
    } catch {
        Write-Line ('==section ' + $name + ' error')
        Write-Line (Get-JsonString ([string]$_.Exception.Message))
    }
    $script:SectionCount += 1
}

# Nothing may stop the probe: an optional lookup that throws yields nothing (not $null), so
# @(Try-Get { ... }) is an empty list and $x = Try-Get { ... } is $null.
function Try-Get([scriptblock]$body) { try { return (& $body) } catch { } }

function Get-RegValue([string]$path, [string]$name) {
    try {
        $item = Get-ItemProperty -Path $path -Name $name -ErrorAction Stop
        return $item.$name
    } catch { return $null }
}

function Get-RegDefault([string]$path) {
    try { return (Get-Item -Path $path -ErrorAction Stop).GetValue('') } catch { return $null }
}

function Get-Wmi([string]$class, [string]$namespace = 'root\cimv2', [string]$filter = $null) {
    if ($filter) { return @(Get-WmiObject -Namespace $namespace -Class $class -Filter $filter -ErrorAction Stop) }
    return @(Get-WmiObject -Namespace $namespace -Class $class -ErrorAction Stop)
}

function Get-Epoch { return [long](([DateTime]::UtcNow - (New-Object DateTime 1970, 1, 1, 0, 0, 0, ([DateTimeKind]::Utc))).TotalSeconds) }

function Get-Ms($watch) { return [math]::Round($watch.Elapsed.TotalMilliseconds, 1) }

# ---------------------------------------------------------------- input
$Cfg = @{ endpoints = (New-Object Collections.ArrayList); outbound_ports = (New-Object Collections.ArrayList) }
$Cfg['timeout_ms'] = 5000
$Cfg['network'] = '0'
if ($ReadinessInput) {
    $inputText = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($ReadinessInput))
    foreach ($line in @($inputText.Split("`n"))) {
        $fields = $line.TrimEnd("`r").Split("`t")
        if ($fields.Length -lt 2) { continue }
        switch ($fields[0]) {
            'endpoint' { [void]$Cfg['endpoints'].Add(@{ id = $fields[1]; requirement = $fields[2]; pattern = $fields[3]; url = $fields[4] }) }
            'outbound_port' { [void]$Cfg['outbound_ports'].Add([int]$fields[1]) }
            'timeout_ms' { $Cfg['timeout_ms'] = [int]$fields[1] }
            default { $Cfg[$fields[0]] = $fields[1] }
        }
    }
}

Write-Line '==readiness-windows-probe 2'
$SectionCount = 0

# ---------------------------------------------------------------- probe
Invoke-Section 'probe' {
    $id = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($id)
    # WindowsIdentity.Groups leaves out deny-only groups, and a UAC-filtered local administrator holds
    # Administrators (S-1-5-32-544) only as deny-only: whoami /groups lists every group of the token.
    # SIDs and the integrity level SID are language-neutral; the attribute text is not, and is not read.
    $sids = New-Object Collections.ArrayList
    $source = $null
    $whoami = @(Try-Get { & whoami.exe /groups /fo csv /nh })
    foreach ($row in @($whoami)) { foreach ($m in @([regex]::Matches([string]$row, 'S-1-[0-9-]+'))) { [void]$sids.Add($m.Value) } }
    if ($sids.Count -gt 0) { $source = 'whoami' } else {
        foreach ($g in @($id.Groups)) { if ($g) { [void]$sids.Add([string]$g.Value) } }
        $source = 'identity-groups'
    }
    $elevated = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
    $inAdmins = $sids.Contains('S-1-5-32-544') -or $elevated
    # identity-groups cannot see a deny-only Administrators group: not found there is "unknown"
    if (-not $inAdmins -and $source -eq 'identity-groups') { $inAdmins = $null }
    $integrity = $null
    foreach ($s in @($sids)) { if ([string]$s -like 'S-1-16-*') { $integrity = [string]$s } }
    @{
        version = 2
        user = $id.Name
        user_sid = $id.User.Value
        elevated = $elevated
        in_administrators = $inAdmins
        groups_source = $source
        integrity_sid = $integrity
        computer = $env:COMPUTERNAME
        ps_version = $PSVersionTable.PSVersion.ToString()
        clr_version = $PSVersionTable.CLRVersion.ToString()
        epoch = (Get-Epoch)
    }
}

# ---------------------------------------------------------------- os, computer, locale
Invoke-Section 'os' {
    $os = (Get-Wmi Win32_OperatingSystem)[0]
    $cs = (Get-Wmi Win32_ComputerSystem)[0]
    $mem = Try-Get { $sum = [long]0; foreach ($m in @(Get-Wmi Win32_PhysicalMemory)) { $sum += [long]$m.Capacity }; $sum }
    $nt = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    @{
        caption = [string]$os.Caption
        version = [string]$os.Version
        build = [string]$os.BuildNumber
        service_pack = [int]$os.ServicePackMajorVersion
        csd_version = [string]$os.CSDVersion
        architecture = [string](Try-Get { $os.OSArchitecture })
        sku = Try-Get { [int]$os.OperatingSystemSKU }
        product_type = [int]$os.ProductType
        edition_id = Get-RegValue $nt 'EditionID'
        installation_type = Get-RegValue $nt 'InstallationType'
        system_drive = [string]$os.SystemDrive
        windows_directory = [string]$os.WindowsDirectory
        os_language = [int]$os.OSLanguage
        locale_lcid = [string]$os.Locale
        install_date = [string]$os.InstallDate
        last_boot = [string]$os.LastBootUpTime
        hostname = [string]$cs.Name
        dns_hostname = [string](Try-Get { $cs.DNSHostName })
        domain = [string]$cs.Domain
        part_of_domain = [bool]$cs.PartOfDomain
        domain_role = [int]$cs.DomainRole
        manufacturer = [string]$cs.Manufacturer
        model = [string]$cs.Model
        logical_processors = Try-Get { [int]$cs.NumberOfLogicalProcessors }
        memory_visible_bytes = [long]$cs.TotalPhysicalMemory
        memory_installed_bytes = $mem
        # the SMBIOS UUID (vSphere's vm.uuid as the guest sees it): ties this scan to its VM
        product_uuid = [string](Try-Get { (Get-Wmi Win32_ComputerSystemProduct)[0].UUID })
    }
}

Invoke-Section 'locale' {
    # InstallLanguage is the language Windows was installed in; Default is only the current default
    $lcid = Get-RegValue 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\Language' 'InstallLanguage'
    $sys = Get-RegDefault 'HKLM:\SYSTEM\CurrentControlSet\Control\Nls\Locale'
    $sysName = Try-Get { [Globalization.CultureInfo]::GetCultureInfo([Convert]::ToInt32([string]$sys, 16)).Name }
    @{
        system_locale_lcid = [string]$sys
        system_locale = $sysName
        install_language_lcid = [string]$lcid
        installed_ui_culture = [Globalization.CultureInfo]::InstalledUICulture.Name
        current_culture = [Threading.Thread]::CurrentThread.CurrentCulture.Name
        current_ui_culture = [Threading.Thread]::CurrentThread.CurrentUICulture.Name
    }
}

# ---------------------------------------------------------------- network adapters and listeners
Invoke-Section 'adapters' {
    $list = New-Object Collections.ArrayList
    foreach ($a in @(Get-Wmi Win32_NetworkAdapterConfiguration -filter 'IPEnabled = TRUE')) {
        [void]$list.Add(@{
            index = [int]$a.Index
            description = [string]$a.Description
            mac = [string]$a.MACAddress
            dhcp = [bool]$a.DHCPEnabled
            addresses = @($a.IPAddress | Where-Object { $_ })
            subnets = @($a.IPSubnet | Where-Object { $_ })
            gateways = @($a.DefaultIPGateway | Where-Object { $_ })
            dns_servers = @($a.DNSServerSearchOrder | Where-Object { $_ })
        })
    }
    @{ adapters = $list.ToArray() }
}

Invoke-Section 'listeners' {
    $props = [Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties()
    $tcp = New-Object Collections.ArrayList
    foreach ($ep in @($props.GetActiveTcpListeners())) { [void]$tcp.Add(@{ address = $ep.Address.ToString(); port = [int]$ep.Port }) }
    # netstat only adds the owning process; the state column is localised, so LISTENING rows are
    # recognised by their foreign address (0.0.0.0:0 or [::]:0), which is not.
    $owners = New-Object Collections.ArrayList
    $names = @{}
    foreach ($p in @(Try-Get { Get-Process })) { $names[[int]$p.Id] = [string]$p.ProcessName }
    $netstat = @(Try-Get { & netstat.exe -ano -p TCP; & netstat.exe -ano -p TCPv6 })
    foreach ($row in @($netstat)) {
        $f = ([string]$row).Trim() -split '\s+'
        if ($f.Length -ge 5 -and $f[0] -eq 'TCP' -and ($f[2] -eq '0.0.0.0:0' -or $f[2] -eq '[::]:0')) {
            $sep = $f[1].LastIndexOf(':')
            $procId = [int]$f[4]
            [void]$owners.Add(@{ address = $f[1].Substring(0, $sep).Trim('[', ']'); port = [int]$f[1].Substring($sep + 1)
                                 pid = $procId; process = $names[$procId] })
        }
    }
    @{ tcp = $tcp.ToArray(); owners = $owners.ToArray() }
}

# ---------------------------------------------------------------- disks, volumes, firmware
Invoke-Section 'storage' {
    $disks = New-Object Collections.ArrayList
    $partitions = @(Get-Wmi Win32_DiskPartition)
    $links = @(Try-Get { Get-Wmi Win32_LogicalDiskToPartition })
    # Windows 2012+: MSFT_Disk has the exact size, the bus type and IsClustered; 2008 R2 lacks the namespace
    $msft = @{}
    foreach ($m in @(Try-Get { Get-Wmi MSFT_Disk 'root\Microsoft\Windows\Storage' })) {
        $msft[[int]$m.Number] = @{ size = [long]$m.Size; bus_type = [int]$m.BusType; clustered = [bool]$m.IsClustered
                                  guid = [string]$m.Guid; partition_style = [int]$m.PartitionStyle }
    }
    $mpio = New-Object Collections.ArrayList
    foreach ($info in @(Try-Get { Get-Wmi MPIO_DISK_INFO 'root\wmi' })) {
        foreach ($drive in @($info.DriveInfo)) {
            if ($drive) { [void]$mpio.Add(@{ name = [string]$drive.Name; paths = [int]$drive.NumberPaths; serial = ([string]$drive.SerialNumber).Trim() }) }
        }
    }
    foreach ($d in @(Get-Wmi Win32_DiskDrive)) {
        $parts = New-Object Collections.ArrayList
        foreach ($p in @($partitions)) {
            if ([int]$p.DiskIndex -ne [int]$d.Index) { continue }
            $letters = New-Object Collections.ArrayList
            foreach ($l in @($links)) {
                if ([string]$l.Antecedent -like ('*"' + $p.DeviceID + '"')) {
                    [void]$letters.Add(([string]$l.Dependent -replace '^.*DeviceID="([^"]*)".*$', '$1'))
                }
            }
            [void]$parts.Add(@{ index = [int]$p.Index; type = [string]$p.Type; size = [long]$p.Size
                                offset = Try-Get { [long]$p.StartingOffset }
                                boot = [bool]$p.BootPartition; primary = [bool]$p.PrimaryPartition
                                letters = $letters.ToArray() })
        }
        $extra = $null
        if ($msft.ContainsKey([int]$d.Index)) { $extra = $msft[[int]$d.Index] }
        [void]$disks.Add(@{ index = [int]$d.Index; model = [string]$d.Model; size = [long]$d.Size
                            interface = [string]$d.InterfaceType; media = [string]$d.MediaType
                            pnp = [string]$d.PNPDeviceID; serial = ([string](Try-Get { $d.SerialNumber })).Trim()
                            signature = Try-Get { [long]$d.Signature }; scsi_port = Try-Get { [int]$d.SCSIPort }
                            scsi_target = Try-Get { [int]$d.SCSITargetId }; scsi_lun = Try-Get { [int]$d.SCSILogicalUnit }
                            storage = $extra; partitions = $parts.ToArray() })
    }
    $locks = @{}
    $bitlocker = Try-Get {
        foreach ($ev in @(Get-Wmi Win32_EncryptableVolume 'root\cimv2\Security\MicrosoftVolumeEncryption')) {
            $status = Try-Get { $ev.GetLockStatus().LockStatus }
            $locks[[string]$ev.DriveLetter] = @{ protection = [int]$ev.ProtectionStatus; lock_status = $status }
        }
        $true
    }
    $volumes = New-Object Collections.ArrayList
    foreach ($v in @(Get-Wmi Win32_Volume)) {
        $letter = [string]$v.DriveLetter
        $bl = $null
        if ($letter -and $locks.ContainsKey($letter)) { $bl = $locks[$letter] }
        [void]$volumes.Add(@{
            letter = $letter; label = [string]$v.Label; file_system = [string]$v.FileSystem
            capacity = Try-Get { [long]$v.Capacity }; free = Try-Get { [long]$v.FreeSpace }
            drive_type = [int]$v.DriveType; boot = Try-Get { [bool]$v.BootVolume }
            system = Try-Get { [bool]$v.SystemVolume }; page_file = Try-Get { [bool]$v.PageFilePresent }
            bitlocker = $bl
        })
    }
    @{ disks = $disks.ToArray(); mpio = $mpio.ToArray(); volumes = $volumes.ToArray(); bitlocker_available = [bool]$bitlocker }
}

Invoke-Section 'firmware' {
    $type = Get-RegValue 'HKLM:\SYSTEM\CurrentControlSet\Control' 'PEFirmwareType'
    $names = @{ '1' = 'bios'; '2' = 'uefi' }
    if ($null -ne $type) { return @{ firmware = $names[[string]$type]; source = 'PEFirmwareType' } }
    $bcd = @(Try-Get { & bcdedit.exe /enum '{current}' })
    $text = [string]::Join("`n", [string[]]$bcd)
    if ($text -match 'winload\.efi') { return @{ firmware = 'uefi'; source = 'bcdedit' } }
    if ($text -match 'winload\.exe') { return @{ firmware = 'bios'; source = 'bcdedit' } }
    @{ firmware = $null; source = $null }
}

# ---------------------------------------------------------------- software, services, hotfixes
Invoke-Section 'software' {
    $programs = New-Object Collections.ArrayList
    foreach ($root in @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall',
                        'HKLM:\SOFTWARE\Wow6432Node\Microsoft\Windows\CurrentVersion\Uninstall')) {
        foreach ($key in @(Try-Get { Get-ChildItem -Path $root -ErrorAction Stop })) {
            $p = Try-Get { Get-ItemProperty -Path $key.PSPath -ErrorAction Stop }
            if ($p -and $p.DisplayName) {
                [void]$programs.Add(@{ name = [string]$p.DisplayName; version = [string]$p.DisplayVersion
                                       publisher = [string]$p.Publisher })
            }
        }
    }
    # .NET detection keys as Microsoft documents them: v2.0.50727 and v3.5 have Install; v3.0 has
    # Setup\InstallSuccess; 4.5+ is v4\Full Release (a DWORD mapped to a version by the parser).
    $ndp = 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP'
    $dotnet = New-Object Collections.ArrayList
    foreach ($name in @('v2.0.50727', 'v3.5')) {
        $install = Get-RegValue "$ndp\$name" 'Install'
        if ($null -ne $install) {
            [void]$dotnet.Add(@{ key = $name; installed = ([int]$install -eq 1); version = [string](Get-RegValue "$ndp\$name" 'Version')
                                 sp = Get-RegValue "$ndp\$name" 'SP' })
        }
    }
    $v3 = Get-RegValue "$ndp\v3.0\Setup" 'InstallSuccess'
    if ($null -ne $v3) {
        [void]$dotnet.Add(@{ key = 'v3.0'; installed = ([int]$v3 -eq 1); version = [string](Get-RegValue "$ndp\v3.0\Setup" 'Version')
                             sp = Get-RegValue "$ndp\v3.0" 'SP' })
    }
    $v4 = Get-RegValue "$ndp\v4\Full" 'Install'
    if ($null -ne $v4) {
        [void]$dotnet.Add(@{ key = 'v4\Full'; installed = ([int]$v4 -eq 1); version = [string](Get-RegValue "$ndp\v4\Full" 'Version')
                             release = Get-RegValue "$ndp\v4\Full" 'Release' })
    }
    $snapins = @(Try-Get { Get-PSSnapin -Registered -ErrorAction Stop | Where-Object { $_.Name -like 'VMware.*' } |
                           ForEach-Object { @{ name = [string]$_.Name; version = [string]$_.Version } } })
    $modules = @(Try-Get { Get-Module -ListAvailable -ErrorAction Stop | Where-Object { $_.Name -like 'VMware.*' } |
                           ForEach-Object { @{ name = [string]$_.Name; version = [string]$_.Version } } })
    # Win32_ServerFeature does not exist on client editions and may be denied: then features_available is false
    $features = @(Try-Get { Get-Wmi Win32_ServerFeature | ForEach-Object { @{ id = [int]$_.ID; name = [string]$_.Name } } })
    @{
        programs = $programs.ToArray()
        dotnet = $dotnet.ToArray()
        powercli_snapins = $snapins
        powercli_modules = $modules
        server_features = $features
        features_available = ($features.Count -gt 0)
    }
}

Invoke-Section 'services' {
    $wanted = @('VMTools', 'WindowsAzureGuestAgent', 'RdAgent', 'WindowsAzureTelemetryService', 'W32Time', 'vmms',
                'SCVMMService', 'SCVMMAgent', 'ClusSvc', 'WinRM', 'TermService', 'MpsSvc', 'svagents', 'InMage Scout Application Service',
                'obengine', 'dra', 'cxprocessserver', 'tmansvc', 'ProcessServer', 'ProcessServerMonitor', 'InMage PushInstall',
                'LogUpload', 'MSiSCSI', 'MSSQLSERVER', 'W3SVC', 'MySQL', 'NTDS')
    $list = New-Object Collections.ArrayList
    foreach ($s in @(Get-Wmi Win32_Service)) {
        foreach ($w in @($wanted)) {
            if ([string]$s.Name -eq $w) {
                [void]$list.Add(@{ name = [string]$s.Name; display_name = [string]$s.DisplayName; state = [string]$s.State
                                   start_mode = [string]$s.StartMode; path = [string]$s.PathName })
            }
        }
    }
    @{ services = $list.ToArray() }
}

Invoke-Section 'hotfixes' {
    # Win32_QuickFixEngineering misses updates that were integrated into the image or superseded;
    # the servicing stack's package store (CBS) names them: Package_for_KB2961977~31bf3856ad364e35~amd64~~6.3.1.0
    $ids = New-Object Collections.ArrayList
    foreach ($h in @(Get-Wmi Win32_QuickFixEngineering)) { if ($h.HotFixID) { [void]$ids.Add(([string]$h.HotFixID).ToUpper()) } }
    $cbs = @{}
    $cbsError = $null
    try {
        # thousands of package keys: only their names are read, and a hashtable keeps each KB once
        $store = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages'
        foreach ($key in @(Get-ChildItem -Path $store -ErrorAction Stop)) {
            $m = [regex]::Match([string]$key.PSChildName, 'KB[0-9]+', 'IgnoreCase')
            if ($m.Success) { $cbs[$m.Value.ToUpper()] = $true }
        }
    } catch { $cbsError = [string]$_.Exception.Message }
    @{ ids = $ids.ToArray(); cbs_ids = @($cbs.Keys); cbs_error = $cbsError }
}

# ---------------------------------------------------------------- security settings
Invoke-Section 'security' {
    $policy = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System'
    $ts = 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server'
    $tsPolicy = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services'
    $groups = @{ file_and_printer_sharing = '@FirewallAPI.dll,-28502'; wmi = '@FirewallAPI.dll,-34251'
                 remote_desktop = '@FirewallAPI.dll,-28752' }
    $fwGroups = @{}
    $profiles = $null
    $enabled = @{}
    $portRules = New-Object Collections.ArrayList
    $fwError = $null
    try {
        $fw = New-Object -ComObject HNetCfg.FwPolicy2
        $profiles = [int]$fw.CurrentProfileTypes
        foreach ($bit in @(1, 2, 4)) { $enabled[[string]$bit] = [bool]$fw.FirewallEnabled($bit) }
        foreach ($k in @($groups.Keys)) { $fwGroups[$k] = [bool]$fw.IsRuleGroupCurrentlyEnabled($groups[$k]) }
        foreach ($r in @($fw.Rules)) {
            # inbound (1), allow (1), TCP (6), enabled: the rules that open listener ports
            if ($r.Enabled -and [int]$r.Direction -eq 1 -and [int]$r.Action -eq 1 -and [int]$r.Protocol -eq 6 -and $r.LocalPorts) {
                [void]$portRules.Add(@{ name = [string]$r.Name; local_ports = [string]$r.LocalPorts; profiles = [int]$r.Profiles
                                        grouping = [string]$r.Grouping })
            }
        }
    } catch { $fwError = [string]$_.Exception.Message }
    # FwPolicy2 above is the local store. Group Policy writes its own store, which Windows merges with
    # the local one (unless AllowLocalPolicyMerge = 0): read it raw, the parser merges as Windows does.
    $gpo = 'HKLM:\SOFTWARE\Policies\Microsoft\WindowsFirewall'
    $gpoProfiles = @{}
    foreach ($name in @('DomainProfile', 'StandardProfile', 'PublicProfile')) {
        $gpoProfiles[$name] = @{ enable_firewall = Get-RegValue "$gpo\$name" 'EnableFirewall'
                                 allow_local_policy_merge = Get-RegValue "$gpo\$name" 'AllowLocalPolicyMerge' }
    }
    $gpoRules = New-Object Collections.ArrayList
    $ruleKey = Try-Get { Get-Item -Path "$gpo\FirewallRules" -ErrorAction Stop }
    if ($ruleKey) {
        foreach ($valueName in @($ruleKey.GetValueNames())) { [void]$gpoRules.Add([string]$ruleKey.GetValue($valueName)) }
    }
    $denyPolicy = Get-RegValue $tsPolicy 'fDenyTSConnections'
    $deny = $denyPolicy
    $denySource = 'group-policy'
    if ($null -eq $deny) { $deny = Get-RegValue $ts 'fDenyTSConnections'; $denySource = 'local' }
    @{
        local_account_token_filter_policy = Get-RegValue $policy 'LocalAccountTokenFilterPolicy'
        enable_lua = Get-RegValue $policy 'EnableLUA'
        deny_ts_connections = $deny
        deny_ts_source = $denySource
        firewall_profiles_current = $profiles
        firewall_enabled = $enabled
        firewall_groups = $fwGroups
        firewall_port_rules = $portRules.ToArray()
        firewall_error = $fwError
        firewall_policy = @{ profiles = $gpoProfiles; rules = $gpoRules.ToArray() }
    }
}

# ---------------------------------------------------------------- cluster, Hyper-V, VMM
Invoke-Section 'cluster' {
    $svc = @(Get-Wmi Win32_Service -filter "Name = 'ClusSvc'")
    if ($svc.Count -eq 0) { return @{ service = $false; cluster = $null } }
    $c = @(Get-WmiObject -Namespace 'root\MSCluster' -Class MSCluster_Cluster -Authentication PacketPrivacy -ErrorAction Stop)
    $nodes = @(Get-WmiObject -Namespace 'root\MSCluster' -Class MSCluster_Node -Authentication PacketPrivacy -ErrorAction Stop | ForEach-Object { [string]$_.Name })
    $resources = New-Object Collections.ArrayList
    foreach ($r in @(Get-WmiObject -Namespace 'root\MSCluster' -Class MSCluster_Resource -Authentication PacketPrivacy -ErrorAction Stop)) {
        $dhcp = $null
        $signature = $null
        $diskGuid = $null
        if ([string]$r.Type -eq 'IP Address') { $dhcp = Try-Get { [int]$r.PrivateProperties.EnableDhcp } }
        if ([string]$r.Type -eq 'Physical Disk') {
            $signature = Try-Get { [long]$r.PrivateProperties.DiskSignature }
            $diskGuid = Try-Get { [string]$r.PrivateProperties.DiskIdGuid }
        }
        [void]$resources.Add(@{ name = [string]$r.Name; type = [string]$r.Type; state = [int]$r.State; dhcp = $dhcp
                                disk_signature = $signature; disk_guid = $diskGuid })
    }
    $csv = @(Try-Get { Get-WmiObject -Namespace 'root\MSCluster' -Class MSCluster_ClusterSharedVolume -Authentication PacketPrivacy -ErrorAction Stop | ForEach-Object { [string]$_.Name } })
    @{ service = $true; cluster = @{ name = [string]$c[0].Name; nodes = $nodes; resources = $resources.ToArray(); shared_volumes = $csv } }
}
Invoke-Section 'hyperv' {
    $vmms = @(Get-Wmi Win32_Service -filter "Name = 'vmms'")
    if ($vmms.Count -eq 0) { return @{ vmms = $null; namespace = $null; vms = $null; replica = $null } }
    # Caption ("Virtual Machine") is localised; the host's own Msvm_ComputerSystem is the one named
    # like the computer, every VM is named by its GUID.
    $ns = $null
    $systems = $null
    foreach ($candidate in @('root\virtualization\v2', 'root\virtualization')) {
        $systems = Try-Get { Get-Wmi Msvm_ComputerSystem $candidate }
        if ($systems) { $ns = $candidate; break }
    }
    $vms = $null
    $replica = $null
    if ($ns) {
        $vms = @($systems | Where-Object { [string]$_.Name -ne [string]$env:COMPUTERNAME } |
                 ForEach-Object { @{ name = [string]$_.ElementName; state = [int]$_.EnabledState } })
        $settings = @(Try-Get { Get-Wmi Msvm_ReplicationServiceSettingData $ns })
        if ($settings.Count -gt 0 -and $settings[0]) {
            $s = $settings[0]
            $replica = @{ recovery_server_enabled = [bool]$s.RecoveryServerEnabled; authentication = [int]$s.AllowedAuthenticationType
                          http_port = [int]$s.HttpPort; https_port = [int]$s.HttpsPort }
        }
    }
    @{ vmms = @{ state = [string]$vmms[0].State; start_mode = [string]$vmms[0].StartMode }; namespace = $ns; vms = $vms; replica = $replica }
}

Invoke-Section 'vmm' {
    $setup = 'HKLM:\SOFTWARE\Microsoft\Microsoft System Center Virtual Machine Manager Server\Setup'
    $version = Get-RegValue $setup 'ProductVersion'
    $svc = @(Get-Wmi Win32_Service -filter "Name = 'SCVMMService'")
    if ($null -eq $version -and $svc.Count -eq 0) { return @{ server = $false } }
    $clouds = $null
    $runAs = $null
    $cloudError = $null
    try {
        Import-Module virtualmachinemanager -ErrorAction Stop
        $server = Get-SCVMMServer -ComputerName localhost -ErrorAction Stop
        $list = New-Object Collections.ArrayList
        foreach ($c in @(Get-SCCloud -VMMServer $server -ErrorAction Stop)) {
            [void]$list.Add(@{ name = [string]$c.Name
                               host_groups = @($c.HostGroup | ForEach-Object { [string]$_.Name })
                               capability_profiles = @($c.CapabilityProfiles | ForEach-Object { [string]$_.Name }) })
        }
        $clouds = $list.ToArray()
        $runAs = @(Get-SCRunAsAccount -VMMServer $server -ErrorAction Stop | ForEach-Object { [string]$_.Name })
    } catch { $cloudError = [string]$_.Exception.Message }
    @{ server = $true; version = [string]$version; service_state = [string](Try-Get { $svc[0].State })
       clouds = $clouds; run_as_accounts = $runAs; error = $cloudError }
}

# ---------------------------------------------------------------- time and proxies
Invoke-Section 'time' {
    $p = 'HKLM:\SYSTEM\CurrentControlSet\Services\W32Time\Parameters'
    $svc = @(Get-Wmi Win32_Service -filter "Name = 'W32Time'")
    $tz = (Get-Wmi Win32_TimeZone)[0]
    $source = Try-Get { ([string]::Join(' ', [string[]]@(& w32tm.exe /query /source))).Trim() }
    @{ type = [string](Get-RegValue $p 'Type'); ntp_server = [string](Get-RegValue $p 'NtpServer')
       service_state = [string](Try-Get { $svc[0].State }); source = $source
       time_zone = [string]$tz.Caption; bias_minutes = [int]$tz.Bias; epoch = (Get-Epoch) }
}

Invoke-Section 'proxy' {
    $conn = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections'
    $blob = Get-RegValue $conn 'WinHttpSettings'
    $user = 'HKCU:\Software\Microsoft\Windows\CurrentVersion\Internet Settings'
    $b64 = $null
    if ($null -ne $blob) { $b64 = [Convert]::ToBase64String([byte[]]$blob) }
    @{ winhttp_settings = $b64
       wininet = @{ enable = Get-RegValue $user 'ProxyEnable'; server = [string](Get-RegValue $user 'ProxyServer')
                    override = [string](Get-RegValue $user 'ProxyOverride'); auto_config_url = [string](Get-RegValue $user 'AutoConfigURL') }
       per_user = Get-RegValue 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings' 'ProxySettingsPerUser' }
}

Invoke-Section 'agents' {
    $mars = 'HKLM:\SOFTWARE\Microsoft\Windows Azure Backup\Replication'
    $upload = Get-RegValue $mars 'UploadThreadsPerVM'
    @{ upload_threads_per_vm = $upload }
}

# ---------------------------------------------------------------- iSCSI, NIC teams, ASR components
# A WMI namespace or class a Windows version does not have (2008 R2 has no root\StandardCimv2; the
# iSCSI class needs the initiator installed) is "none here", not an error; anything else (access
# denied) fails the section and becomes a gap.
function Test-Absent($err) {
    $codes = @([string](Try-Get { $err.Exception.ErrorCode }), [string](Try-Get { $err.Exception.InnerException.ErrorCode }))
    return (($codes -contains 'InvalidNamespace') -or ($codes -contains 'InvalidClass') -or ($codes -contains 'NotFound'))
}

Invoke-Section 'iscsi' {
    $sessions = New-Object Collections.ArrayList
    try {
        foreach ($s in @(Get-Wmi MSiSCSIInitiator_SessionClass 'root\wmi')) {
            $devices = New-Object Collections.ArrayList
            foreach ($dev in @($s.Devices)) { if ($dev) { [void]$devices.Add([int]$dev.DeviceNumber) } }
            [void]$sessions.Add(@{ target = [string]$s.TargetName; connections = [int]$s.ConnectionCount
                                   devices = $devices.ToArray() })
        }
    } catch {
        if (-not (Test-Absent $_)) { throw }
        return @{ available = $false; sessions = @() }
    }
    @{ available = $true; sessions = $sessions.ToArray() }
}

Invoke-Section 'teams' {
    $teams = New-Object Collections.ArrayList
    try {
        $members = @(Get-Wmi MSFT_NetLbfoTeamMember 'root\StandardCimv2')
        foreach ($t in @(Get-Wmi MSFT_NetLbfoTeam 'root\StandardCimv2')) {
            $names = New-Object Collections.ArrayList
            foreach ($m in @($members)) { if ([string]$m.Team -eq [string]$t.Name) { [void]$names.Add([string]$m.Name) } }
            [void]$teams.Add(@{ name = [string]$t.Name; mode = [int]$t.TeamingMode; load_balancing = [int]$t.LoadBalancingAlgorithm
                                members = $names.ToArray() })
        }
    } catch {
        if (-not (Test-Absent $_)) { throw }
        return @{ available = $false; teams = @() }
    }
    @{ available = $true; teams = $teams.ToArray() }
}

# The unified agent (Mobility service) records itself under InMage Systems\Installed Products\5 and
# keeps the configuration server it registered with in <install dir>\Application Data\etc\drscout.conf,
# section [vxagent.transport] (HostName, Port, Https). A configuration server is product 9 (CX) and
# runs tmansvc, ProcessServer, cxprocessserver and dra (the Azure Site Recovery Provider).
function Get-InMageProduct([string]$number) {
    foreach ($root in @('HKLM:\SOFTWARE\Wow6432Node\InMage Systems\Installed Products', 'HKLM:\SOFTWARE\InMage Systems\Installed Products')) {
        $key = "$root\$number"
        if (Test-Path $key) {
            return @{ key = $key; install_dir = Get-RegValue $key 'InstallDirectory'; version = Get-RegValue $key 'Build_Version'
                      product = Get-RegValue $key 'Product_Name'; post_install = Get-RegValue $key 'PostInstallActions'
                      configuration = Get-RegValue $key 'AgentConfigurationStatus' }
        }
    }
    return $null
}

Invoke-Section 'asr' {
    $agent = Get-InMageProduct '5'
    $conf = $null
    $confError = $null
    if ($agent -and $agent.install_dir) {
        $path = Join-Path ([string]$agent.install_dir) 'Application Data\etc\drscout.conf'
        try {
            $conf = @{}
            $section = ''
            foreach ($line in @([IO.File]::ReadAllLines($path))) {
                $text = ([string]$line).Trim()
                if ($text -match '^\[(.+)\]$') { $section = $matches[1].ToLower(); continue }
                $eq = $text.IndexOf('=')
                if ($eq -lt 1) { continue }
                $key = $section + '.' + $text.Substring(0, $eq).Trim().ToLower()
                # only what says where the agent is registered: nothing else of the file leaves the machine
                if (@('vxagent.transport.hostname', 'vxagent.transport.port', 'vxagent.transport.https', 'vxagent.role', 'vxagent.vmplatform', 'vxagent.cstype') -contains $key) {
                    $conf[$key] = $text.Substring($eq + 1).Trim().Trim('"')
                }
            }
        } catch { $conf = $null; $confError = [string]$_.Exception.Message }
    }
    $cx = Get-InMageProduct '9'
    $registration = @(Try-Get { (Get-Item -Path 'HKLM:\SOFTWARE\Microsoft\Azure Site Recovery\Registration' -ErrorAction Stop).GetValueNames() })
    @{ agent = $agent; agent_config = $conf; agent_config_error = $confError; config_server = $cx
       provider_registration_values = $registration.Count }
}

# ---------------------------------------------------------------- network checks from this machine
function Test-Tcp([string]$hostName, [int]$port, [int]$timeoutMs) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $client = New-Object Net.Sockets.TcpClient
    try {
        $async = $client.BeginConnect($hostName, $port, $null, $null)
        if (-not $async.AsyncWaitHandle.WaitOne($timeoutMs, $false)) { return @{ ok = $false; ms = (Get-Ms $watch); error = 'timed out' } }
        $client.EndConnect($async)
        return @{ ok = $true; ms = (Get-Ms $watch); error = $null }
    } catch {
        $e = $_.Exception
        while ($e.InnerException) { $e = $e.InnerException }
        return @{ ok = $false; ms = (Get-Ms $watch); error = [string]$e.Message }
    } finally { $client.Close() }
}

function Test-Endpoint($ep, $proxyMode, [int]$timeoutMs) {
    $uri = New-Object Uri($ep.url)
    $r = @{ id = $ep.id; requirement = $ep.requirement; url = $ep.url; pattern = $ep.pattern; host = $uri.Host; port = $uri.Port }
    $proxy = $null
    if ($proxyMode -eq 'system') {
        $sys = [Net.WebRequest]::GetSystemWebProxy()
        $via = $sys.GetProxy($uri)
        if ($via -and $via.AbsoluteUri -ne $uri.AbsoluteUri) { $proxy = $via }
    } elseif ($proxyMode) { $proxy = New-Object Uri($proxyMode) }
    if ($proxy) { $r['proxy'] = $proxy.GetLeftPart([UriPartial]::Authority) } else { $r['proxy'] = $null }
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        $addresses = @([Net.Dns]::GetHostAddresses($uri.Host) | ForEach-Object { $_.ToString() })
        $r['dns'] = @{ ok = ($addresses.Count -gt 0); addresses = $addresses; ms = (Get-Ms $watch); error = $null; server = $null }
    } catch {
        $r['dns'] = @{ ok = $false; addresses = @(); ms = (Get-Ms $watch); error = [string]$_.Exception.InnerException.Message; server = $null }
        if (-not $r['dns'].error) { $r['dns'].error = [string]$_.Exception.Message }
    }
    $r['tls'] = $null
    if ($proxy) { $r['tcp'] = Test-Tcp $proxy.Host $proxy.Port $timeoutMs }
    elseif ($r['dns'].ok) { $r['tcp'] = Test-Tcp $uri.Host $uri.Port $timeoutMs }
    else { $r['tcp'] = @{ ok = $false; ms = 0.0; error = 'not attempted: no DNS answer' } }
    $http = @{ status = $null; ms = 0.0; error = 'not attempted: no TCP connection'; date = $null; epoch = $null; tls_error = $false }
    if ($r['tcp'].ok) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $response = $null
        try {
            $req = [Net.HttpWebRequest]::Create($uri)
            $req.Method = 'GET'; $req.AllowAutoRedirect = $false; $req.Timeout = $timeoutMs; $req.ReadWriteTimeout = $timeoutMs
            if ($proxy) { $req.Proxy = New-Object Net.WebProxy($proxy) } else { $req.Proxy = $null }
            $response = $req.GetResponse()
        } catch [Net.WebException] {
            $we = $_.Exception
            if ($we -isnot [Net.WebException]) { $we = $we.InnerException }
            if ($we.Response) { $response = $we.Response }
            else {
                $status = [string]$we.Status
                $http = @{ status = $null; ms = (Get-Ms $watch); error = ($status + ': ' + [string]$we.Message); date = $null; epoch = $null
                           tls_error = ($status -eq 'TrustFailure' -or $status -eq 'SecureChannelFailure') }
            }
        } catch {
            $http = @{ status = $null; ms = (Get-Ms $watch); error = [string]$_.Exception.Message; date = $null; epoch = $null; tls_error = $false }
        }
        if ($response) {
            $http = @{ status = [int]$response.StatusCode; ms = (Get-Ms $watch); error = $null; date = $response.Headers['Date']
                       epoch = (Get-Epoch); tls_error = $false }
            $response.Close()
        }
    }
    $r['http'] = $http
    return $r
}

if ($Cfg['network'] -eq '1') {
    Invoke-Section 'net' {
        $timeout = [int]$Cfg['timeout_ms']
        # Offer TLS 1.2/1.1 to Azure where .NET has them (only this process; the machine is not changed).
        # [Enum]::ToObject never throws, unlike a cast to a value .NET 2.0/3.5 does not define; the
        # assignment may still be refused without the TLS 1.2 update, so each step is tried in turn.
        foreach ($bits in @(4032, 960, 192)) {
            $wanted = [Enum]::ToObject([Net.SecurityProtocolType], $bits)
            $done = Try-Get { [Net.ServicePointManager]::SecurityProtocol = $wanted; $true }
            if ($done) { break }
        }
        $tls = [string][Net.ServicePointManager]::SecurityProtocol
        $proxyMode = 'system'
        if ($Cfg.ContainsKey('proxy')) { $proxyMode = $Cfg['proxy'] }
        $endpoints = New-Object Collections.ArrayList
        foreach ($ep in @($Cfg['endpoints'])) { [void]$endpoints.Add((Test-Endpoint $ep $proxyMode $timeout)) }
        $ports = New-Object Collections.ArrayList
        foreach ($port in @($Cfg['outbound_ports'])) {
            $check = Test-Tcp $Cfg['port_check_host'] $port $timeout
            $check['host'] = $Cfg['port_check_host']; $check['port'] = $port
            [void]$ports.Add($check)
        }
        $lan = New-Object Collections.ArrayList
        if ($Cfg['management_server']) {
            foreach ($port in @(443, 9443)) {
                $check = Test-Tcp $Cfg['management_server'] $port $timeout
                $check['host'] = $Cfg['management_server']; $check['port'] = $port
                [void]$lan.Add($check)
            }
        }
        $vcenter = $null
        if ($Cfg['vcenter']) {
            $vcenter = Test-Tcp $Cfg['vcenter'] 443 $timeout
            $vcenter['host'] = $Cfg['vcenter']; $vcenter['port'] = 443
        }
        $time = $null
        if ($Cfg['time_url']) { $time = Test-Endpoint @{ id = 'time'; requirement = 'MS-TIME-001'; pattern = ''; url = $Cfg['time_url'] } $proxyMode $timeout }
        @{ proxy_mode = $proxyMode; tls_protocols = $tls; endpoints = $endpoints.ToArray(); outbound_ports = $ports.ToArray()
           management_server = $Cfg['management_server']; lan = $lan.ToArray(); vcenter = $vcenter; time = $time }
    }
}

Write-Line ('==end ' + $SectionCount)
