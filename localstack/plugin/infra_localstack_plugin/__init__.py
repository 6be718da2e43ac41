"""LocalStack provider plugin for the infra emulator harness (EKS, RDS, ELBv2 via moto)."""
