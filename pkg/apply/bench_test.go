package apply

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSummarizeUI summarises a plan of 10,000 changes and reports the
// ratio to a floor measured in the same run: decoding every line into a
// map with encoding/json and nothing else.
func BenchmarkSummarizeUI(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"@level":"info","@message":"Terraform 1.9.8","type":"version","terraform":"1.9.8","ui":"1.2"}` + "\n")
	for i := range 10000 {
		action := []string{"create", "update", "delete", "replace"}[i%4]
		fmt.Fprintf(&buf, `{"@level":"info","@message":"x: Plan to %s","@module":"terraform.ui","change":{"resource":{"addr":"aws_secretsmanager_secret.app[\"db%d\"]","module":"","resource":"aws_secretsmanager_secret.app[\"db%d\"]","implied_provider":"aws","resource_type":"aws_secretsmanager_secret","resource_name":"app","resource_key":"db%d"},"action":"%s"},"type":"planned_change"}`+"\n", action, i, i, i, action)
	}
	buf.WriteString(`{"@level":"info","@message":"Plan","type":"change_summary","changes":{"add":5000,"change":2500,"remove":5000,"operation":"plan"}}` + "\n")
	data := buf.Bytes()
	floor := func() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			var m map[string]any
			_ = json.Unmarshal(sc.Bytes(), &m)
		}
	}
	start, n := time.Now(), 0
	for ; n < 3 || time.Since(start) < 200*time.Millisecond; n++ {
		floor()
	}
	floorNs := float64(time.Since(start).Nanoseconds()) / float64(n)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		s, err := SummarizeUI(data, Policy{Protected: []string{"aws_kms_key"}})
		if err != nil || len(s.Changes) != 10000 {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/floorNs, "x-floor")
}
