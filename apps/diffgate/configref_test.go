package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/diffgate/diffgate/shared/config"
)

const referencePath = "../../docs/config-reference.md"

// The committed reference is what the command prints now.
func TestConfigReferenceUpToDate(t *testing.T) {
	var out bytes.Buffer
	if err := cmdConfigReference(context.Background(), nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v: run make docs", err)
	}
	if diff := cmp.Diff(strings.Split(string(committed), "\n"), strings.Split(out.String(), "\n")); diff != "" {
		t.Errorf("docs/config-reference.md is stale: run make docs\n(-committed +generated):\n%s", diff)
	}
}

func TestConfigReferenceRejectsArguments(t *testing.T) {
	var out bytes.Buffer
	if err := cmdConfigReference(context.Background(), []string{"x"}, &out, &out); !errors.Is(err, errUsage) {
		t.Errorf("err = %v, want errUsage", err)
	}
}

// Every key of the config is in the reference, with its doc.
func TestConfigReferenceCoversEveryKey(t *testing.T) {
	ref := configReference()
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			key := name
			if path != "" {
				key = path + "." + name
			}
			if f.Tag.Get("doc") == "" {
				t.Errorf("%s has no doc tag", key)
			}
			ft, list, _ := underlying(f.Type)
			nested := ft.Kind() == reflect.Struct && !scalarStruct(ft)
			if list && nested {
				key += "[]"
			}
			if !strings.Contains(ref, "`"+key+"`") {
				t.Errorf("%s is not in the reference", key)
			}
			if nested {
				walk(ft, key)
			}
		}
	}
	walk(reflect.TypeOf(config.Config{}), "")
}

// defaultsConfig has every optional section, with only what is required.
const defaultsConfig = `
github:
  app_id: 1
  private_key: "-----BEGIN RSA PRIVATE KEY-----"
  webhook_secret: whsec-defaults-test
gitlab:
  token: glpat-defaults-test
  webhook_secret: glwh-defaults-test
data_sources:
  - {name: warehouse, type: postgres, dsn: "postgres://ro@db/analytics"}
integrations:
  - name: analytics
    repository: github.com/acme/analytics
    data_source: warehouse
    dbt_cloud: {token: dbtc-defaults-test, account_id: 1, artifacts_job_id: 11, pr_job_id: 22}
    hightouch: {token: ht-defaults-test, source_ids: [42]}
`

// pointerDefaults are the settings whose default a method applies (nil
// pointer fields): the method's answer must match the `default` tag.
var pointerDefaults = map[string]func(c *config.Config) string{
	"integrations[].ci.enabled":               func(c *config.Config) string { return strconv.FormatBool(c.Integrations[0].CI.IsEnabled()) },
	"integrations[].ci.import_dbt_metadata":   func(c *config.Config) string { return strconv.FormatBool(c.Integrations[0].CI.ImportMetadata()) },
	"integrations[].ci.diff_hightouch_models": func(c *config.Config) string { return strconv.FormatBool(c.Integrations[0].CI.DiffHightouch()) },
	"integrations[].ci.sample_size": func(c *config.Config) string {
		n, _ := c.Integrations[0].CI.Samples()
		return strconv.Itoa(n)
	},
}

// The `default` tags, which the reference shows, are the values a config
// that leaves the keys out gets.
func TestDefaultTagsMatchDefaults(t *testing.T) {
	c, err := config.Parse([]byte(defaultsConfig), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		typ := v.Type()
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			key := name
			if path != "" {
				key = path + "." + name
			}
			fv := v.Field(i)
			if et, list, _ := underlying(f.Type); et.Kind() == reflect.Struct && !scalarStruct(et) {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						t.Errorf("%s: the test config must set this section", key)
						continue
					}
					fv = fv.Elem()
				}
				if list {
					if fv.Len() == 0 {
						t.Errorf("%s: the test config must have one", key)
						continue
					}
					walk(fv.Index(0), key+"[]")
				} else {
					walk(fv, key)
				}
				continue
			}
			tag, ok := f.Tag.Lookup("default")
			if !ok {
				continue
			}
			var got string
			if fv.Kind() == reflect.Pointer {
				get, ok := pointerDefaults[key]
				if !ok {
					t.Errorf("%s: a pointer setting with a default: add how to read it to pointerDefaults", key)
					continue
				}
				if !fv.IsNil() {
					t.Errorf("%s: the test config sets it", key)
				}
				seen[key] = true
				got = get(c)
			} else {
				got = valueText(fv)
			}
			if !sameValue(t, key, f.Type, tag, got) {
				t.Errorf("%s: default tag %q, but a config without the key gets %q", key, tag, got)
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	for key := range pointerDefaults {
		if !seen[key] {
			t.Errorf("pointerDefaults names %s, which is no pointer setting with a default", key)
		}
	}
}

func valueText(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case config.Duration:
		return x.D().String()
	case config.ByteSize:
		return strconv.FormatInt(int64(x), 10)
	}
	return fmt.Sprint(v.Interface())
}

// sameValue compares a default tag with a value in the value's own terms
// (30d and 720h0m0s are one duration).
func sameValue(t *testing.T, key string, typ reflect.Type, tag, got string) bool {
	t.Helper()
	switch typ {
	case durationType:
		d, err := config.ParseDuration(tag)
		if err != nil {
			t.Errorf("%s: default tag: %v", key, err)
		}
		return d.D().String() == got
	case byteSizeType:
		n, err := config.ParseByteSize(tag)
		if err != nil {
			t.Errorf("%s: default tag: %v", key, err)
		}
		return strconv.FormatInt(int64(n), 10) == got
	}
	return tag == got
}
