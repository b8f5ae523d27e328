// Package config reads imdsguard's configuration file, strictly: an unknown
// field is an error, so a typo never silently disables a setting.
package config
