//go:build tools

// Package tools names the command scripts/cluster builds from this module.
package tools

import _ "github.com/google/go-containerregistry/cmd/crane"
