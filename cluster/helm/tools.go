//go:build tools

// Package tools names the command scripts/cluster builds from this module.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
