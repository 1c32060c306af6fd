// Package charttest holds the render tests of the diffgate Helm chart: the
// chart is rendered with Helm's own engine for several values files and the
// objects are decoded into Kubernetes API types and checked.
package charttest
