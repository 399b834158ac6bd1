# expect 2: PowerShell 3.0+ syntax
class Probe { [string]$Name }
