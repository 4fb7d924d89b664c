package vch

import "errors"

// Errors callers branch on, with errors.Is.
var (
	// ErrNotFound: no VCH of that name exists.
	ErrNotFound = errors.New("vch not found")
	// ErrContainersRunning: rm without --force while container VMs are powered on.
	ErrContainersRunning = errors.New("container VMs are powered on")
)
