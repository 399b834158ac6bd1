// Command vcsim starts the govmomi vSphere API simulator for readiness's tests
// and benchmark: TLS with a certificate the caller provides, one login, and an
// inventory sized by flags.  It prints one JSON line (url, counts) on stdout,
// then serves until stdin closes or it gets SIGTERM.
//
// The Debian simulator (govmomi 0.24) differs from vCenter in three ways that
// matter to readiness; this launcher makes it behave like vCenter there, so the
// tests exercise real server behaviour rather than mocks of readiness's code:
//
//   - PropertyCollector: vCenter honours RetrieveOptions.maxObjects and pages
//     with ContinueRetrievePropertiesEx; the simulator returns one page.  The
//     wrapper below cuts the simulator's full result into maxObjects pages with
//     tokens, as vCenter does (-paging=false turns this off).
//   - AuthorizationManager.FetchUserPrivilegeOnEntities: the simulator answers
//     "Admin" for everyone.  The wrapper answers from the permissions set with
//     SetEntityPermissions (nearest entity up the tree wins, as in vCenter) and
//     falls back to the simulator when the principal has none.
//   - LicenseAssignmentManager: the simulator reports the evaluation licence for
//     everything and has no UpdateAssignedLicense.  The wrapper records
//     assignments and lists one per host; licence keys starting "FREE-" carry
//     the free vSphere Hypervisor edition (esx.hypervisor.cpuPackage).
//   - Datastore.host: the model creates a shared local datastore once per host,
//     each creation replacing the last, so the datastore lists the mount of one
//     host while every host lists the datastore.  vCenter lists a mount per host;
//     mountAll adds the missing ones (read/write, mounted, accessible) at start.
//
// Credentials come from VCSIM_USER / VCSIM_PASSWORD (never argv).
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ---- paging PropertyCollector -------------------------------------------------

var (
	pagesMu   sync.Mutex
	pages     = map[string][]types.ObjectContent{}
	pageSize  = map[string]int{}
	nextToken int
	paging    = true
)

// PagingCollector is embedded by value: the simulator clones the root collector
// per session with reflect.New, so the zero value must work.
type PagingCollector struct {
	simulator.PropertyCollector
}

func cut(token string, objects []types.ObjectContent, max int) types.RetrieveResult {
	if max <= 0 || len(objects) <= max {
		return types.RetrieveResult{Objects: objects}
	}
	pagesMu.Lock()
	defer pagesMu.Unlock()
	if token == "" {
		nextToken++
		token = strconv.Itoa(nextToken)
	}
	pages[token] = objects[max:]
	pageSize[token] = max
	return types.RetrieveResult{Objects: objects[:max], Token: token}
}

func (pc *PagingCollector) RetrievePropertiesEx(ctx *simulator.Context, r *types.RetrievePropertiesEx) soap.HasFault {
	res := pc.PropertyCollector.RetrievePropertiesEx(ctx, r)
	body, ok := res.(*methods.RetrievePropertiesExBody)
	if !paging || !ok || body.Res == nil || body.Res.Returnval == nil {
		return res
	}
	page := cut("", body.Res.Returnval.Objects, int(r.Options.MaxObjects))
	body.Res.Returnval = &page
	return body
}

func (pc *PagingCollector) ContinueRetrievePropertiesEx(r *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	pagesMu.Lock()
	rest, ok := pages[r.Token]
	max := pageSize[r.Token]
	delete(pages, r.Token)
	delete(pageSize, r.Token)
	pagesMu.Unlock()
	if !ok {
		body.Fault_ = simulator.Fault("unknown token", &types.InvalidArgument{InvalidProperty: "token"})
		return body
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{Returnval: cut(r.Token, rest, max)}
	return body
}

func (pc *PagingCollector) CancelRetrievePropertiesEx(r *types.CancelRetrievePropertiesEx) soap.HasFault {
	pagesMu.Lock()
	delete(pages, r.Token)
	delete(pageSize, r.Token)
	pagesMu.Unlock()
	return &methods.CancelRetrievePropertiesExBody{Res: &types.CancelRetrievePropertiesExResponse{}}
}

// ---- permission-aware AuthorizationManager ------------------------------------

// Authz and Licences embed the simulator's objects by value: its PropertyCollector
// finds the mo.* struct by walking embedded struct fields, not pointers.
type Authz struct {
	simulator.AuthorizationManager
}

func (m *Authz) FetchUserPrivilegeOnEntities(req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	roles := object.AuthorizationRoleList(m.RoleList)
	var out []types.UserPrivilegeResult
	for _, e := range req.Entities {
		var found []types.Permission
		ref := e
		for found == nil {
			res := m.RetrieveEntityPermissions(&types.RetrieveEntityPermissions{Entity: ref})
			for _, p := range res.(*methods.RetrieveEntityPermissionsBody).Res.Returnval {
				if p.Principal == req.UserName && (ref == e || p.Propagate) {
					found = append(found, p)
				}
			}
			ent, ok := simulator.Map.Get(ref).(mo.Entity)
			if !ok || ent.Entity().Parent == nil {
				break
			}
			ref = *ent.Entity().Parent
		}
		if found == nil {
			return m.AuthorizationManager.FetchUserPrivilegeOnEntities(req)
		}
		seen := map[string]bool{}
		var privs []string
		for _, p := range found {
			for _, role := range roles {
				if role.RoleId != p.RoleId {
					continue
				}
				for _, id := range role.Privilege {
					if !seen[id] {
						seen[id] = true
						privs = append(privs, id)
					}
				}
			}
		}
		out = append(out, types.UserPrivilegeResult{Entity: e, Privileges: privs})
	}
	return &methods.FetchUserPrivilegeOnEntitiesBody{Res: &types.FetchUserPrivilegeOnEntitiesResponse{Returnval: out}}
}

// ---- per-host licence assignments ----------------------------------------------

type Licences struct {
	simulator.LicenseAssignmentManager
	mu       sync.Mutex
	assigned map[string]types.LicenseManagerLicenseInfo
}

func licence(key string) types.LicenseManagerLicenseInfo {
	info := simulator.EvalLicense
	info.LicenseKey = key
	if strings.HasPrefix(key, "FREE-") {
		info.EditionKey = "esx.hypervisor.cpuPackage"
		info.Name = "vSphere 6 Hypervisor"
	} else if key != simulator.EvalLicense.LicenseKey {
		info.EditionKey = "esx.enterprisePlus.cpuPackage"
		info.Name = "vSphere 6 Enterprise Plus"
	}
	return info
}

func (m *Licences) UpdateAssignedLicense(req *types.UpdateAssignedLicense) soap.HasFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned[req.Entity] = licence(req.LicenseKey)
	return &methods.UpdateAssignedLicenseBody{Res: &types.UpdateAssignedLicenseResponse{Returnval: m.assigned[req.Entity]}}
}

func (m *Licences) QueryAssignedLicenses(req *types.QueryAssignedLicenses) soap.HasFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []types.LicenseAssignmentManagerLicenseAssignment
	for _, h := range simulator.Map.All("HostSystem") {
		id := h.Reference().Value
		if req.EntityId != "" && req.EntityId != id {
			continue
		}
		info, ok := m.assigned[id]
		if !ok {
			info = simulator.EvalLicense
		}
		out = append(out, types.LicenseAssignmentManagerLicenseAssignment{
			EntityId: id, EntityDisplayName: h.Entity().Name, AssignedLicense: info})
	}
	return &methods.QueryAssignedLicensesBody{Res: &types.QueryAssignedLicensesResponse{Returnval: out}}
}

// ---- one mount per host on shared datastores ------------------------------------

func mountAll() {
	for _, e := range simulator.Map.All("HostSystem") {
		h := e.(*simulator.HostSystem)
		for _, ref := range h.Datastore {
			ds, ok := simulator.Map.Get(ref).(*simulator.Datastore)
			if !ok {
				continue
			}
			mounted := false
			for _, m := range ds.Host {
				mounted = mounted || m.Key == h.Self
			}
			if !mounted {
				ds.Host = append(ds.Host, types.DatastoreHostMount{Key: h.Self, MountInfo: types.HostMountInfo{
					AccessMode: string(types.HostMountModeReadWrite), Mounted: types.NewBool(true),
					Accessible: types.NewBool(true)}})
			}
		}
	}
}

// ---- main -------------------------------------------------------------------------

type versions map[string]string

func (v versions) String() string { return fmt.Sprint(map[string]string(v)) }
func (v versions) Set(s string) error {
	name, ver, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want NAME=VERSION")
	}
	v[name] = ver
	return nil
}

func setProduct(p *types.AboutInfo, version string) {
	if version == "" {
		return
	}
	p.Version = version
	parts := strings.Split(version, ".")
	if len(parts) >= 2 {
		p.ApiVersion = parts[0] + "." + parts[1]
	}
	p.FullName = strings.Replace(p.FullName, "6.5.0", version, 1)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	cert := flag.String("cert", "", "TLS certificate (PEM)")
	key := flag.String("key", "", "TLS private key (PEM)")
	dc := flag.Int("dc", 1, "datacenters")
	cluster := flag.Int("cluster", 1, "clusters per datacenter")
	clusterHost := flag.Int("cluster-host", 2, "hosts per cluster")
	standalone := flag.Int("standalone-host", 1, "standalone hosts per datacenter")
	ds := flag.Int("ds", 1, "local datastores")
	vm := flag.Int("vm", 0, "VMs per resource pool / standalone host")
	vcVersion := flag.String("vc-version", "", "vCenter version to report (default: the simulator's)")
	esxVersion := flag.String("esx-version", "", "ESXi version every host reports (default: the simulator's)")
	hostVersions := versions{}
	flag.Var(hostVersions, "host-version", "HOSTNAME=VERSION for one host (repeatable)")
	dsType := flag.String("ds-type", "VMFS", "summary.type of the model's local datastores (the simulator says OTHER)")
	flag.BoolVar(&paging, "paging", true, "honour RetrieveOptions.maxObjects like vCenter")
	perfFile := flag.String("perf", "", "JSON series for historical performance statistics (perf.go)")
	perfLevel := flag.Int("perf-level", 1, "statistics level of every historical interval (vCenter's default: 1)")
	perfMax := flag.Int("perf-max-metrics", 64, "config.vpxd.stats.maxQueryMetrics (0: no limit)")
	flag.Parse()

	model := simulator.VPX()
	model.Datacenter, model.Cluster, model.ClusterHost, model.Host = *dc, *cluster, *clusterHost, *standalone
	model.Datastore, model.Machine, model.Portgroup = *ds, *vm, 0
	model.Autostart = true
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()

	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	setProduct(&si.Content.About, *vcVersion)

	for _, e := range simulator.Map.All("HostSystem") {
		h := e.(*simulator.HostSystem)
		version := *esxVersion
		if v, ok := hostVersions[h.Name]; ok {
			version = v
		}
		if version == "" {
			continue
		}
		setProduct(&h.Config.Product, version)
		product := h.Config.Product
		h.Summary.Config.Product = &product
	}

	for _, e := range simulator.Map.All("Datastore") {
		e.(*simulator.Datastore).Summary.Type = *dsType
	}
	mountAll()

	root := simulator.Map.Get(si.Content.PropertyCollector).(*simulator.PropertyCollector)
	simulator.Map.Put(&PagingCollector{*root})
	am := simulator.Map.Get(*si.Content.AuthorizationManager).(*simulator.AuthorizationManager)
	simulator.Map.Put(&Authz{*am})
	lm := simulator.Map.Get(*si.Content.LicenseManager).(*simulator.LicenseManager)
	if lm.LicenseAssignmentManager != nil {
		lam := simulator.Map.Get(*lm.LicenseAssignmentManager).(*simulator.LicenseAssignmentManager)
		simulator.Map.Put(&Licences{LicenseAssignmentManager: *lam, assigned: map[string]types.LicenseManagerLicenseInfo{}})
	}

	installPerf(*perfFile, *perfLevel, *perfMax)

	user, password := os.Getenv("VCSIM_USER"), os.Getenv("VCSIM_PASSWORD")
	if user == "" || password == "" {
		log.Fatal("set VCSIM_USER and VCSIM_PASSWORD")
	}
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(user, password)}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			log.Fatal(err)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	}
	server := model.Service.NewServer()
	defer server.Close()

	u := *server.URL
	u.User = nil
	out, _ := json.Marshal(map[string]interface{}{
		"url": u.String(), "host": u.Hostname(), "port": u.Port(),
		"vms": len(simulator.Map.All("VirtualMachine")), "hosts": len(simulator.Map.All("HostSystem")),
		"paging": paging,
	})
	fmt.Println(string(out))

	done := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString(0) // returns at EOF
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-done:
	case <-sig:
	}
}
