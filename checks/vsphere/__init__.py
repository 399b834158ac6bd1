"""vSphere collectors: vCenter, its VMs and ESXi hosts, read in bulk through the PropertyCollector."""
