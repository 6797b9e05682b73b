"""The compliance packs a service may choose, and the names cdk-nag gives them. No CDK import:
the acknowledgements table and the configuration both read it."""

from typing import Literal, get_args

# cdk-nag's NIST 800-53 rev 5, HIPAA Security and PCI DSS 3.2.1 rule packs (the `compliance_packs`
# answer). Each runs beside AwsSolutions on every synth (policy.add_policy_checks).
CompliancePack = Literal["nist-800-53-r5", "hipaa", "pci-dss"]
COMPLIANCE_PACKS: tuple[CompliancePack, ...] = get_args(CompliancePack)

# The name each pack reports its findings under: the validation report shows
# '<plugin>::<plugin>-<rule>' (e.g. 'NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy'), and an
# acknowledgement names the same id (cdk-nag 3's packs, read from a synth of this app).
PLUGIN_OF_PACK: dict[CompliancePack, str] = {
    "nist-800-53-r5": "NIST.800.53.R5",
    "hipaa": "HIPAA.Security",
    "pci-dss": "PCI.DSS.321",
}
