// Package eksctl reads the node groups of an eksctl ClusterConfig: their
// names, labels, launch templates and eksctl's own metadata switches
// (disableIMDSv1, disablePodIMDS), kept as written.
package eksctl
