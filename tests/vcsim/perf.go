// Historical performance statistics the way vCenter keeps them, for readiness's capacity tests.
//
// The Debian simulator (govmomi 0.24) has no historical intervals, serves random noise from QueryPerf
// for every entity type, no samples at all when maxSample is unset, ignores the CSV format and enforces
// no query limit.  vCenter differs on each point, and readiness depends on all of them, so this wrapper
// (enabled with -perf FILE) makes the PerformanceManager behave like vCenter:
//
//   - historicalInterval: the four default intervals (Past day 300 s / 1 day, Past week 1800 s / 7 days,
//     Past month 7200 s / 30 days, Past year 86400 s / 365 days) at the level given by -perf-level
//     (vCenter's default is 1 everywhere);
//   - per-device counters (every virtualDisk counter is per instance) are kept only in intervals whose
//     level is at least the counter's perDeviceLevel, as vCenter's rollup jobs do: below it QueryPerf
//     returns no series for them; the VM-wide disk counters (disk.usage, disk.numberRead/WriteAveraged,
//     instance "") are kept from their level (1) and are the sums of the VM's disks;
//   - QueryPerf returns the samples inside (startTime, endTime] at the interval's sampling period, aligned
//     to it, every sample when maxSample is unset, for every disk instance with instance "*", and the
//     CSV form (PerfEntityMetricCSV) when format is "csv";
//   - a query for more than -perf-max-metrics entity x counter pairs fails with InvalidArgument, like
//     vCenter's config.vpxd.stats.maxQueryMetrics (64 by default since vCenter 5.5 U2).
//
// The series come from a JSON file written by the test: per VM name, per disk instance, per counter
// (write_iops, read_iops, write_kbps, read_kbps) a list of values for the samples from oldest to newest
// (cycled when shorter), and "missing_before": the share of the window, from its start, with no samples
// (a VM that existed for only part of it).  VMs not listed get "default" on each of their disks.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type diskSeries map[string][]int64 // counter name -> values

type vmSeries struct {
	Disks         map[string]diskSeries `json:"disks"`
	MissingBefore float64               `json:"missing_before"`
}

type perfSpec struct {
	Default diskSeries          `json:"default"`
	VMs     map[string]vmSeries `json:"vms"`
}

// Perf is embedded by value, like the other wrappers: the simulator's registry holds the pointer.
type Perf struct {
	simulator.PerformanceManager
	spec       perfSpec
	maxMetrics int
	counters   map[int32]types.PerfCounterInfo
}

// The VM-wide disk counters (instance "", the aggregate) are the sums over the VM's disks of the per-disk
// series: vCenter keeps them from level 1 (their Level), where the per-disk ones need their perDeviceLevel.
var aggregateOf = map[string][]string{
	"agg_write_iops": {"write_iops"},
	"agg_read_iops":  {"read_iops"},
	"agg_usage_kbps": {"write_kbps", "read_kbps"},
}

var perfCounterNames = map[string]string{
	"disk.numberWriteAveraged.average":        "agg_write_iops",
	"disk.numberReadAveraged.average":         "agg_read_iops",
	"disk.usage.average":                      "agg_usage_kbps",
	"virtualDisk.numberWriteAveraged.average": "write_iops",
	"virtualDisk.numberReadAveraged.average":  "read_iops",
	"virtualDisk.write.average":               "write_kbps",
	"virtualDisk.read.average":                "read_kbps",
}

func installPerf(path string, level int, maxMetrics int) {
	if path == "" {
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	var spec perfSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		panic(fmt.Sprintf("%s: %v", path, err))
	}
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	pm := simulator.Map.Get(*si.Content.PerfManager).(*simulator.PerformanceManager)
	p := &Perf{PerformanceManager: *pm, spec: spec, maxMetrics: maxMetrics, counters: map[int32]types.PerfCounterInfo{}}
	for _, c := range p.PerfCounter {
		p.counters[c.Key] = c
	}
	p.HistoricalInterval = []types.PerfInterval{
		{Key: 1, SamplingPeriod: 300, Name: "Past day", Length: 86400, Level: int32(level), Enabled: true},
		{Key: 2, SamplingPeriod: 1800, Name: "Past week", Length: 604800, Level: int32(level), Enabled: true},
		{Key: 3, SamplingPeriod: 7200, Name: "Past month", Length: 2592000, Level: int32(level), Enabled: true},
		{Key: 4, SamplingPeriod: 86400, Name: "Past year", Length: 31536000, Level: int32(level), Enabled: true},
	}
	simulator.Map.Put(p)
}

func (p *Perf) interval(period int32) *types.PerfInterval {
	for i := range p.HistoricalInterval {
		if p.HistoricalInterval[i].SamplingPeriod == period {
			return &p.HistoricalInterval[i]
		}
	}
	return nil
}

// instances lists the VM's disks as vCenter names them: scsi<bus>:<unit>, ide<bus>:<unit>, sata<bus>:<unit>.
func instances(vm *simulator.VirtualMachine) []string {
	buses := map[int32]string{}
	for _, d := range vm.Config.Hardware.Device {
		switch c := d.(type) {
		case types.BaseVirtualSCSIController:
			buses[c.GetVirtualSCSIController().Key] = fmt.Sprintf("scsi%d", c.GetVirtualSCSIController().BusNumber)
		case *types.VirtualIDEController:
			buses[c.Key] = fmt.Sprintf("ide%d", c.BusNumber)
		case types.BaseVirtualSATAController:
			buses[c.GetVirtualSATAController().Key] = fmt.Sprintf("sata%d", c.GetVirtualSATAController().BusNumber)
		}
	}
	var names []string
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok && disk.UnitNumber != nil {
			names = append(names, fmt.Sprintf("%s:%d", buses[disk.ControllerKey], *disk.UnitNumber))
		}
	}
	return names
}

func (p *Perf) QueryPerf(ctx *simulator.Context, req *types.QueryPerf) soap.HasFault {
	body := new(methods.QueryPerfBody)
	metrics := 0
	for _, qs := range req.QuerySpec {
		metrics += len(qs.MetricId)
	}
	if p.maxMetrics > 0 && metrics > p.maxMetrics {
		body.Fault_ = simulator.Fault(fmt.Sprintf("query for %d metrics exceeds config.vpxd.stats.maxQueryMetrics (%d)",
			metrics, p.maxMetrics), &types.InvalidArgument{InvalidProperty: "querySpec.size"})
		return body
	}
	res := new(types.QueryPerfResponse)
	for _, qs := range req.QuerySpec {
		obj := simulator.Map.Get(qs.Entity)
		vm, ok := obj.(*simulator.VirtualMachine)
		if !ok {
			body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "entity"})
			return body
		}
		iv := p.interval(qs.IntervalId)
		if iv == nil || qs.StartTime == nil {
			body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "interval"})
			return body
		}
		period := int64(iv.SamplingPeriod)
		end := time.Now()
		if qs.EndTime != nil && qs.EndTime.Before(end) {
			end = *qs.EndTime
		}
		last := end.Unix() / period * period
		first := (qs.StartTime.Unix()/period + 1) * period
		n := int((last-first)/period) + 1
		if n < 0 {
			n = 0
		}
		series, listed := p.spec.VMs[vm.Name]
		skip := 0
		if listed {
			skip = int(series.MissingBefore * float64(n))
		} else {
			series = vmSeries{Disks: map[string]diskSeries{}}
			for _, name := range instances(vm) {
				series.Disks[name] = p.spec.Default
			}
		}
		stamps := []time.Time{}
		for i := skip; i < n; i++ {
			stamps = append(stamps, time.Unix(first+int64(i)*period, 0).UTC())
		}
		entity := types.PerfEntityMetric{}
		entity.Entity = qs.Entity
		csv := types.PerfEntityMetricCSV{}
		csv.Entity = qs.Entity
		var info []string
		for _, t := range stamps {
			entity.SampleInfo = append(entity.SampleInfo, types.PerfSampleInfo{Timestamp: t, Interval: iv.SamplingPeriod})
			info = append(info, strconv.Itoa(int(iv.SamplingPeriod)), t.Format(time.RFC3339))
		}
		csv.SampleInfoCSV = strings.Join(info, ",")
		for _, mid := range qs.MetricId {
			counter, known := p.counters[mid.CounterId]
			name := perfCounterNames[fmt.Sprintf("%s.%s.%s", counter.GroupInfo.GetElementDescription().Key,
				counter.NameInfo.GetElementDescription().Key, counter.RollupType)]
			parts, aggregate := aggregateOf[name]
			level := counter.PerDeviceLevel
			if aggregate {
				level = counter.Level
			}
			if !known || name == "" || iv.Level < level || (aggregate && mid.Instance != "") {
				continue // not kept at this interval's level, or not a counter this launcher serves
			}
			value := func(values diskSeries, counter string, i int) int64 {
				if points := values[counter]; len(points) > 0 {
					return points[i%len(points)]
				}
				return 0
			}
			instances := []string{""}
			if !aggregate {
				instances = instances[:0]
				for disk := range series.Disks {
					if mid.Instance == "*" || mid.Instance == disk {
						instances = append(instances, disk)
					}
				}
			}
			for _, disk := range instances {
				out := make([]int64, 0, len(stamps))
				for i := skip; i < n; i++ {
					v := int64(0)
					if aggregate {
						for _, values := range series.Disks {
							for _, part := range parts {
								v += value(values, part, i)
							}
						}
					} else {
						v = value(series.Disks[disk], name, i)
					}
					out = append(out, v)
				}
				id := types.PerfMetricId{CounterId: mid.CounterId, Instance: disk}
				entity.Value = append(entity.Value, &types.PerfMetricIntSeries{PerfMetricSeries: types.PerfMetricSeries{Id: id}, Value: out})
				text := make([]string, len(out))
				for i, v := range out {
					text[i] = strconv.FormatInt(v, 10)
				}
				csv.Value = append(csv.Value, types.PerfMetricSeriesCSV{PerfMetricSeries: types.PerfMetricSeries{Id: id}, Value: strings.Join(text, ",")})
			}
		}
		if qs.Format == "csv" {
			res.Returnval = append(res.Returnval, &csv)
		} else {
			res.Returnval = append(res.Returnval, &entity)
		}
	}
	body.Res = res
	return body
}
