"""airgap.registry command line tools (`airgap-seed`)."""
