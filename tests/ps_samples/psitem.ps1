# expect 2: variable $PSItem
Get-Process | Where-Object { $PSItem.Id -gt 4 }
