# expect 3: member enumeration of a collection
$disks = @(Get-WmiObject -Class Win32_DiskDrive)
$sizes = $disks.Size
