"""The policy as the registers complete it: what the notice and the record of processing show.

The policy file states the defaults; the registers (managed by the operator at run time)
take precedence where they hold an entry: the privacy contact and the DPO, the supervisory
authority, the sub-processors. Register recipients are added to the policy's. A
sub-processor or recipient outside the deployment's region becomes a transfer, listed with
its safeguard. Both the notice and the record read the result, so they always agree.
"""

from __future__ import annotations

from dataclasses import replace

from tidings.domain.policy import Policy, Recipient, SubProcessor, Transfer
from tidings.privacy.registers import Registers
from tidings.privacy.taxonomy import Regions, load_regions


def region_name(code: str, regions: Regions | None = None) -> str:
    found = (regions or load_regions()).regions.get(code)
    return found.name if found else code


def safeguard_words(code: str, regions: Regions | None = None) -> str:
    found = (regions or load_regions()).safeguards.get(code)
    return f"{found.name} ({found.article})" if found else code


def with_registers(policy: Policy, registers: Registers) -> Policy:
    """`policy` with the registers' contacts, authority, sub-processors, recipients, transfers."""
    regions = load_regions()
    controller = policy.controller
    contact = registers.contact("privacy_contact")
    dpo = registers.contact("dpo")
    controller = replace(
        controller,
        contact=contact or controller.contact,
        dpo=dpo or controller.dpo,
        storage=controller.storage
        or f"In the region {region_name(registers.region, regions)} ({registers.region}).",
    )
    subprocessors = (
        tuple(
            SubProcessor(s.name, s.service, s.region, s.safeguard or "", s.applies_to)
            for s in registers.subprocessors
        )
        or policy.subprocessors
    )
    recipients = policy.recipients + tuple(
        Recipient(r.name, r.purpose or "", region_name(r.region, regions) if r.region else "")
        for r in registers.recipients
    )
    abroad = [
        (s.name, s.region, s.safeguard) for s in subprocessors if s.region != registers.region
    ] + [
        (r.name, r.region, r.safeguard or "")
        for r in registers.recipients
        if r.region and r.region != registers.region
    ]
    transfers = policy.transfers + tuple(
        Transfer(
            f"{name}, in {region_name(region, regions)}",
            (safeguard_words(safeguard, regions),) if safeguard else ("none recorded",),
        )
        for name, region, safeguard in abroad
    )
    return replace(
        policy,
        controller=controller,
        authority=registers.authority or policy.authority,
        subprocessors=subprocessors,
        recipients=recipients,
        transfers=transfers,
    )
