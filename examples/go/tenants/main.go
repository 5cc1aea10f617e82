// Onboarding through the Go binding: apply every tenant spec of a directory (a no-op when they
// are already there), migrate their databases, print their status and an SLO budget report.
//
//	go run ./tenants DIR [SERIES.csv]
//
// The connections come from the environment, as for the eqops tool: KUBECONFIG,
// EQOPS_PG_CONNINFO, EQOPS_TENANT_TIERS (the tiers file) and EQOPS_MIGRATIONS.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"eqops"
)

type result struct {
	Tenant  string `json:"tenant"`
	OK      bool   `json:"ok"`
	Changed int    `json:"changed"`
	K8sMs   int64  `json:"k8s_ms"`
	PgMs    int64  `json:"pg_ms"`
	Health  string `json:"health"`
	Cluster []struct {
		Cluster string `json:"cluster"`
	} `json:"clusters"`
	Database struct {
		SchemaVersion int64  `json:"schema_version"`
		Login         string `json:"login"`
	} `json:"database"`
}

type fleet struct {
	Tenants []result `json:"tenants"`
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tenants DIR [SERIES.csv]")
		os.Exit(2)
	}
	dir := os.Args[1]
	root, _ := filepath.Abs("../..")
	migrations := os.Getenv("EQOPS_MIGRATIONS")
	if migrations == "" {
		migrations = filepath.Join(root, "examples", "pg", "migrations")
	}
	env, err := eqops.NewTenantEnv(eqops.TenantEnvOptions{
		TiersFile:     os.Getenv("EQOPS_TENANT_TIERS"),
		PGConninfo:    os.Getenv("EQOPS_PG_CONNINFO"),
		MigrationsDir: migrations,
	})
	must(err)
	defer env.Close()

	steps := map[string]int{}
	out, failed, err := env.Fleet("apply", dir, &eqops.TenantRunOptions{
		Progress: func(tenant, cluster, step, status string, done, total int) bool {
			steps[tenant] = total
			return false
		},
	})
	must(err)
	var applied fleet
	must(json.Unmarshal([]byte(out), &applied))
	for _, r := range applied.Tenants {
		fmt.Printf("apply %-12s ok=%v changed=%d (%d steps, k8s %d ms, postgres %d ms)\n",
			r.Tenant, r.OK, r.Changed, steps[r.Tenant], r.K8sMs, r.PgMs)
	}

	cluster, err := eqops.ConnectPG(os.Getenv("EQOPS_PG_CONNINFO"), eqops.PGOptions{})
	must(err)
	run, err := cluster.Migrate(eqops.MigrateOptions{MigrationsDir: migrations})
	cluster.Close()
	must(err)
	fmt.Printf("migrate: target version %d, %d database(s) ok\n", run.TargetVersion, run.OK)

	out, _, err = env.Fleet("status", dir, nil)
	must(err)
	var status fleet
	must(json.Unmarshal([]byte(out), &status))
	for _, s := range status.Tenants {
		names := ""
		for i, c := range s.Cluster {
			if i > 0 {
				names += ","
			}
			names += c.Cluster
		}
		fmt.Printf("status %-12s %-8s clusters=%s schema=v%d login=%s\n", s.Tenant, s.Health,
			names, s.Database.SchemaVersion, s.Database.Login)
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d tenant(s) failed\n", failed)
		os.Exit(1)
	}

	if len(os.Args) > 2 {
		set, err := eqops.LoadSLOSet(filepath.Join(root, "examples", "slo", "billing-api.json"))
		must(err)
		defer set.Close()
		series, err := eqops.LoadSeries(os.Args[2])
		must(err)
		report, err := set.Report(eqops.ReportOptions{Series: &series})
		must(err)
		for _, o := range report["objectives"].([]any) {
			obj := o.(map[string]any)
			if noData, _ := obj["no_data"].(bool); noData {
				fmt.Printf("slo %-36s NO DATA\n", obj["id"])
				continue
			}
			budget := obj["budget"].(map[string]any)
			fmt.Printf("slo %-36s SLI %.4f%%  budget %.1f%% remaining\n", obj["id"],
				100*obj["sli"].(float64), 100*budget["remaining"].(float64))
		}
	}
	fmt.Println("libeqops", eqops.Version())
}
