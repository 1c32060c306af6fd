package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/diffgate/diffgate/shared/dbt/dbtgen"
)

// Side is production or a pull request's build.
type Side int

const (
	// Prod is the production build.
	Prod Side = iota
	// PR is the pull request's build.
	PR
)

func (s Side) String() string {
	if s == PR {
		return "pr"
	}
	return "prod"
}

// Cents is a money amount in hundredths; it is stored as NUMERIC(12,2).
type Cents int64

// Date is a calendar day; it is stored as DATE.
type Date struct{ Y, M, D int }

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Y, d.M, d.D) }

func dayOf(t time.Time) Date { return Date{t.Year(), int(t.Month()), t.Day()} }

// Column is a column of a table and its SQL type (one that PostgreSQL and
// DuckDB both accept).
type Column struct {
	Name string
	Type string
}

// Table is one model's relation as built on one side: its columns and
// rows. Values are int64, string, Cents, Date or nil (NULL).
type Table struct {
	Name    string
	Columns []Column
	Rows    [][]any
}

// Project is the sample dbt project: a shop whose pull request changes how
// orders are staged. Production and the PR are built from the same raw
// data, so every difference is the PR's doing:
//
//	raw.customers ─▶ stg_customers ─┬─▶ customers
//	raw.orders ───▶ stg_orders ─────┼─▶ first_orders
//	                                └─▶ daily_revenue ─▶ Hightouch "Daily revenue to Slack"
//
// The PR edits stg_orders: it drops test orders, keeps late orders the old
// filter lost, applies coupon discounts to amounts (a new discount column
// replaces coupon_code), and its new coupon join repeats the orders that
// used two coupons (a primary-key problem). customers and daily_revenue
// change with it; first_orders does not.
type Project struct {
	// Name is the dbt project's name.
	Name string
	// Modified is the model the PR edits; Downstream the models below it.
	Modified   string
	Downstream []string
	// Unimpacted are models the PR does not reach.
	Unimpacted []string
	// Hightouch is the Hightouch model downstream of the change.
	Hightouch HightouchModel

	prod, pr map[string]*Table
}

// HightouchModel is a Hightouch model of the sample workspace.
type HightouchModel struct {
	ID         int64
	Name       string
	PrimaryKey string
	// SQL reads the production relation of Reads (schema "prod").
	SQL   string
	Reads string
	// Columns are the columns SQL selects.
	Columns []string
	Syncs   []int64
}

// ProdSchema is the schema production models are built in.
const ProdSchema = "prod"

// Sample returns the sample project. It is the same on every call.
func Sample() *Project {
	p := &Project{
		Name:       "shop",
		Modified:   "stg_orders",
		Downstream: []string{"customers", "daily_revenue", "first_orders"},
		Unimpacted: []string{"stg_customers"},
		Hightouch: HightouchModel{ID: 9101, Name: "Daily revenue to Slack", PrimaryKey: "order_date",
			SQL: "select order_date, revenue from prod.daily_revenue", Reads: "daily_revenue",
			Columns: []string{"order_date", "revenue"}, Syncs: []int64{7201}},
	}
	p.prod = build(Prod)
	p.pr = build(PR)
	return p
}

// Sample data sizes.
const (
	nCustomers = 80
	nOrders    = 600
	nLate      = 10 // orders the production filter loses and the PR keeps
)

var (
	countries = []string{"NL", "DE", "FR", "US", "GB"}
	statuses  = []string{"completed", "shipped", "placed", "returned"}
	day0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// doubled are the orders that used two coupons: the PR's coupon join
	// repeats them.
	doubled = []int64{24, 48, 72}
)

// order is one raw order.
type order struct {
	id, customer int64
	status       string
	amount       Cents
	coupon       string
	day          Date
}

func rawOrders() []order {
	var out []order
	for i := int64(1); i <= nOrders+nLate; i++ {
		o := order{id: i, customer: (i*7)%nCustomers + 1, status: statuses[i%4],
			amount: Cents(1000 + (i*37)%9000), day: dayOf(day0.AddDate(0, 0, int(i/10)))}
		// Every customer's first order is among the first nCustomers, so
		// dropping later test orders leaves first orders alone.
		if i > nCustomers && i%50 == 0 {
			o.status = "test"
		}
		if i%8 == 0 {
			o.coupon = "SPRING"
		}
		out = append(out, o)
	}
	return out
}

// stgOrders is the stg_orders model on a side; it returns the table and
// the rows as orders, for the models below it.
func stgOrders(side Side) (*Table, []order) {
	t := &Table{Name: "stg_orders"}
	var kept []order
	if side == Prod {
		t.Columns = []Column{{"order_id", "INTEGER"}, {"customer_id", "INTEGER"}, {"status", "VARCHAR"},
			{"amount", "NUMERIC(12,2)"}, {"coupon_code", "VARCHAR"}, {"ordered_at", "DATE"}}
		for _, o := range rawOrders() {
			if o.id > nOrders { // the old filter lost late orders
				continue
			}
			kept = append(kept, o)
			t.Rows = append(t.Rows, []any{o.id, o.customer, o.status, o.amount, nullIfEmpty(o.coupon), o.day})
		}
		return t, kept
	}
	t.Columns = []Column{{"order_id", "INTEGER"}, {"customer_id", "INTEGER"}, {"status", "VARCHAR"},
		{"amount", "NUMERIC(12,2)"}, {"discount", "NUMERIC(12,2)"}, {"ordered_at", "DATE"}}
	for _, o := range rawOrders() {
		if o.status == "test" {
			continue
		}
		var discount Cents
		if o.coupon != "" {
			discount = o.amount / 10
		}
		o.amount -= discount
		n := 1
		if slices.Contains(doubled, o.id) {
			n = 2
		}
		for range n {
			kept = append(kept, o)
			t.Rows = append(t.Rows, []any{o.id, o.customer, o.status, o.amount, discount, o.day})
		}
	}
	return t, kept
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// build makes every model's table of a side, as dbt would build them.
func build(side Side) map[string]*Table {
	tables := map[string]*Table{}
	cust := &Table{Name: "stg_customers", Columns: []Column{{"customer_id", "INTEGER"}, {"name", "VARCHAR"}, {"country", "VARCHAR"}}}
	for c := int64(1); c <= nCustomers; c++ {
		cust.Rows = append(cust.Rows, []any{c, fmt.Sprintf("Customer %02d", c), countries[c%int64(len(countries))]})
	}
	tables[cust.Name] = cust
	stg, orders := stgOrders(side)
	tables[stg.Name] = stg

	// customers: one row per customer with their orders and lifetime value.
	count := map[int64]int64{}
	value := map[int64]Cents{}
	first := map[int64]order{}
	for _, o := range orders {
		count[o.customer]++
		value[o.customer] += o.amount
		if f, ok := first[o.customer]; !ok || o.id < f.id {
			first[o.customer] = o
		}
	}
	customers := &Table{Name: "customers", Columns: []Column{{"customer_id", "INTEGER"}, {"name", "VARCHAR"},
		{"country", "VARCHAR"}, {"orders", "BIGINT"}, {"lifetime_value", "NUMERIC(12,2)"}}}
	firsts := &Table{Name: "first_orders", Columns: []Column{{"customer_id", "INTEGER"}, {"first_order_id", "INTEGER"}, {"first_order_date", "DATE"}}}
	for _, r := range cust.Rows {
		c := r[0].(int64)
		customers.Rows = append(customers.Rows, []any{c, r[1], r[2], count[c], value[c]})
		if f, ok := first[c]; ok {
			firsts.Rows = append(firsts.Rows, []any{c, f.id, f.day})
		}
	}
	tables[customers.Name] = customers
	tables[firsts.Name] = firsts

	// daily_revenue: orders and revenue per day.
	type day struct {
		orders  int64
		revenue Cents
	}
	days := map[Date]*day{}
	var order []Date
	for _, o := range orders {
		d := days[o.day]
		if d == nil {
			d = &day{}
			days[o.day] = d
			order = append(order, o.day)
		}
		d.orders++
		d.revenue += o.amount
	}
	rev := &Table{Name: "daily_revenue", Columns: []Column{{"order_date", "DATE"}, {"orders", "BIGINT"}, {"revenue", "NUMERIC(12,2)"}}}
	for _, d := range order {
		rev.Rows = append(rev.Rows, []any{d, days[d].orders, days[d].revenue})
	}
	tables[rev.Name] = rev
	return tables
}

// Tables returns the tables of a side that a dbt Cloud run builds:
// production builds every model; the PR's CI run builds the modified
// model and everything downstream (state:modified+), deferring the rest
// to production.
func (p *Project) Tables(side Side) []*Table {
	names := append([]string{p.Modified}, p.Downstream...)
	src := p.pr
	if side == Prod {
		names = append(names, p.Unimpacted...)
		src = p.prod
	}
	out := make([]*Table, 0, len(names))
	for _, n := range names {
		out = append(out, src[n])
	}
	return out
}

// Build implements DBTProject.
func (p *Project) Build(ctx context.Context, wh Warehouse, side Side, schema string) error {
	return wh.Build(ctx, schema, p.Tables(side))
}

// HightouchModels implements DBTProject.
func (p *Project) HightouchModels() []HightouchModel { return []HightouchModel{p.Hightouch} }

// Manifest returns the side's manifest.json, with relations in database
// and schema.
func (p *Project) Manifest(side Side, database, schema string) []byte {
	m := &dbtgen.Manifest{ProjectName: p.Name, Database: database, Schema: schema}
	m.Sources = []*dbtgen.Source{
		{SourceName: "raw", Name: "customers", Database: database, Schema: "raw", Description: "Customers as the shop's database keeps them."},
		{SourceName: "raw", Name: "orders", Database: database, Schema: "raw", Description: "Orders as the shop's database keeps them."},
	}
	id := func(model string) string { return "model." + p.Name + "." + model }
	cols := func(t *Table, docs map[string]string) []dbtgen.Column {
		out := make([]dbtgen.Column, len(t.Columns))
		for i, c := range t.Columns {
			out[i] = dbtgen.Column{Name: c.Name, DataType: strings.ToLower(c.Type), Description: docs[c.Name]}
		}
		return out
	}
	tables := p.prod
	stgSQL := "select id as order_id, customer_id, status, amount_cents / 100.0 as amount, coupon_code, ordered_at::date as ordered_at\n" +
		"from {{ source('raw', 'orders') }}\nwhere ordered_at < current_date - 1"
	if side == PR {
		tables = p.pr
		stgSQL = "select o.id as order_id, o.customer_id, o.status,\n" +
			"  (o.amount_cents - coalesce(c.discount_cents, 0)) / 100.0 as amount,\n" +
			"  coalesce(c.discount_cents, 0) / 100.0 as discount, o.ordered_at::date as ordered_at\n" +
			"from {{ source('raw', 'orders') }} o\nleft join {{ source('raw', 'coupons') }} c on c.order_id = o.id\nwhere o.status <> 'test'"
	}
	m.Nodes = []*dbtgen.Node{
		{ResourceType: "model", Name: "stg_customers", Parents: []string{"source.shop.raw.customers"},
			Description: "One row per customer.", Columns: cols(p.prod["stg_customers"], nil),
			RawCode: "select id as customer_id, name, country from {{ source('raw', 'customers') }}"},
		{ResourceType: "model", Name: "stg_orders", Parents: []string{"source.shop.raw.orders"},
			Description: "One row per order, amounts in the shop's currency.",
			Columns:     cols(tables["stg_orders"], map[string]string{"amount": "What the customer paid."}),
			RawCode:     stgSQL},
		{ResourceType: "model", Name: "customers", Materialized: "table", Parents: []string{id("stg_customers"), id("stg_orders")},
			Description: "Customers with their orders and lifetime value.", Columns: cols(tables["customers"], nil), Tags: []string{"finance"},
			RawCode: "select c.customer_id, c.name, c.country, count(o.order_id) as orders, sum(o.amount) as lifetime_value\n" +
				"from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o using (customer_id)\ngroup by 1, 2, 3"},
		{ResourceType: "model", Name: "first_orders", Materialized: "table", Parents: []string{id("stg_orders")},
			Description: "Each customer's first order.", Columns: cols(tables["first_orders"], nil),
			RawCode: "select distinct on (customer_id) customer_id, order_id as first_order_id, ordered_at as first_order_date\n" +
				"from {{ ref('stg_orders') }}\norder by customer_id, order_id"},
		{ResourceType: "model", Name: "daily_revenue", Materialized: "table", Parents: []string{id("stg_orders")},
			Description: "Orders and revenue per day.", Columns: cols(tables["daily_revenue"], nil), Tags: []string{"finance"},
			RawCode: "select ordered_at as order_date, count(*) as orders, sum(amount) as revenue\nfrom {{ ref('stg_orders') }}\ngroup by 1"},
		unique(p.Name, "stg_customers", "customer_id"),
		unique(p.Name, "stg_orders", "order_id"),
		unique(p.Name, "customers", "customer_id"),
		unique(p.Name, "first_orders", "customer_id"),
		unique(p.Name, "daily_revenue", "order_date"),
	}
	m.Exposures = []*dbtgen.Exposure{{Name: "revenue_dashboard", Label: "Revenue dashboard", Type: "dashboard",
		URL: "https://bi.example.com/dashboards/revenue", OwnerName: "Finance", OwnerEmail: "finance@example.com",
		Parents: []string{id("daily_revenue")}}}
	return m.Bytes()
}

func unique(project, model, column string) *dbtgen.Node {
	id := "model." + project + "." + model
	return &dbtgen.Node{ResourceType: "test", Name: "unique_" + model + "_" + column, TestName: "unique", ColumnName: column,
		AttachedNode: id, Parents: []string{id}, RawCode: "{{ test_unique(**_dbt_generic_test_kwargs) }}",
		MacroDeps: []string{"macro.dbt.test_unique"}}
}

// literal renders a value as an SQL literal that PostgreSQL and DuckDB
// read alike. Values are the generator's own, never a user's.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case Cents:
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
	case Date:
		return "DATE '" + v.String() + "'"
	}
	panic(fmt.Sprintf("sandbox: no literal for %T", v))
}
