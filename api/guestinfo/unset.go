package guestinfo

// Unset is the value the CLI creates the guest's keys (GuestKeys) with before the first
// power-on. The backdoor can set only keys that exist, and vSphere drops an extraConfig key
// whose value is empty, at creation as at reconfiguration: an empty key would not exist.
// Readers of the guest's keys take Unset for no value.
const Unset = "unset"

// IsUnset reports whether a guest key's value says nothing yet: empty or Unset.
func IsUnset(v string) bool { return v == "" || v == Unset }
