"""The evidence bundle carries the cosigned checkpoint; its verifier can require k of n."""

import base64
import json
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from services.cli import app as cli
from services.release.evidence.verify import EvidenceFailed, verify_bundle
from services.witness.app import create_app as create_witness
from shared.audit import repository as audit_repo
from shared.audit.witnessing import WitnessPool
from shared.tlog.cosignature import CosignatureSigner, CosignatureVerifier
from tests.audit_helpers import integrate_all
from tests.conftest import running
from tests.release.evidence_bundles import Anchors, anchors, edited, picked_up
from tests.release.port import Port
from tests.witness.conftest import WitnessFactory, witness_cosigner

OTHER = CosignatureSigner("witness.test/w2", Ed25519PrivateKey.from_private_bytes(b"\5" * 32))


async def cosigned_bundle(
    port: Port, witness_settings: WitnessFactory
) -> tuple[bytes, CosignatureVerifier]:
    """A picked-up container's bundle, exported after a witness cosigned the checkpoint."""
    chain = await picked_up(port)
    witness = create_witness(witness_settings([port.release.state.audit_log.verifier_key]))
    cosigner = witness_cosigner(witness)
    async with running(witness):
        pool = WitnessPool(
            port.release.state.sessions,
            [("http://witness.test", cosigner)],
            transport=httpx.ASGITransport(app=witness),
        )
        await integrate_all(port.release)
        async with port.release.state.sessions() as session:
            latest = await audit_repo.latest_checkpoint(session)
        assert latest is not None
        assert len(await pool.push(latest.note)) == 1
    response = await port.client.get(
        f"/v1/releases/{chain.release_id}/evidence", headers=port["security"].headers
    )
    assert response.status_code == 200, response.text
    return response.content, cosigner


def verify(
    anchors: Anchors, bundle: bytes, witnesses: list[CosignatureVerifier], k: int
) -> list[str]:
    report = verify_bundle(
        bundle,
        log_key=anchors.log_key,
        identity_jwks=anchors.identity_jwks,
        inspection_keys=anchors.inspection_keys,
        witnesses=witnesses,
        min_witnesses=k,
    )
    return report.passed + [f"skipped {line}" for line in report.skipped]


async def test_a_cosigned_bundle_verifies_with_k_of_n_and_fails_with_fewer(
    port: Port, witness_settings: WitnessFactory
) -> None:
    bundle, cosigner = await cosigned_bundle(port, witness_settings)
    trusted = await anchors(port)
    assert "\u2014 witness.test/w1 " in json.loads(bundle)["checkpoint"]
    lines = verify(trusted, bundle, [cosigner, OTHER.verifier()], 1)
    assert any(line.startswith("witnesses: cosigned by 1 of the 2 given") for line in lines)
    with pytest.raises(EvidenceFailed) as failure:
        verify(trusted, bundle, [cosigner, OTHER.verifier()], 2)
    assert failure.value.check == "witnesses"
    # Without --witness the cosignature is not checked, and the report says so.
    assert "skipped checkpoint: 1 cosignature line(s) of keys not given (--witness)" in verify(
        trusted, bundle, [], 0
    )


async def test_a_bundle_without_cosignatures_is_refused_when_witnesses_are_required(
    port: Port, witness_settings: WitnessFactory
) -> None:
    bundle, cosigner = await cosigned_bundle(port, witness_settings)
    trusted = await anchors(port)

    def strip(document: dict[str, str]) -> None:
        note = document["checkpoint"]
        document["checkpoint"] = "\n".join(
            line for line in note.split("\n") if "witness.test" not in line
        )

    with pytest.raises(EvidenceFailed) as failure:
        verify(trusted, edited(bundle, strip), [cosigner], 1)
    assert failure.value.check == "witnesses"


async def test_a_forged_cosignature_of_a_trusted_witness_fails(
    port: Port, witness_settings: WitnessFactory
) -> None:
    bundle, cosigner = await cosigned_bundle(port, witness_settings)
    trusted = await anchors(port)

    def forge(document: dict[str, str]) -> None:
        # The same witness line over another time: the signature no longer covers it.
        note = document["checkpoint"]
        head, _, line = note.rstrip("\n").rpartition("\n")
        text = note[: note.rfind("\n\n") + 1]
        fake = CosignatureSigner(cosigner.name, Ed25519PrivateKey.generate()).cosign(text, 1)
        kid_of_real = line.split(" ")[2]
        raw = base64.b64decode(fake.rstrip("\n").split(" ")[2])
        real = base64.b64decode(kid_of_real)
        forged = base64.b64encode(real[:4] + raw[4:]).decode()
        document["checkpoint"] = f"{head}\n\u2014 {cosigner.name} {forged}\n"

    with pytest.raises(EvidenceFailed) as failure:
        verify(trusted, edited(bundle, forge), [cosigner], 1)
    assert failure.value.check == "witnesses"


async def test_the_command_line_requires_the_witnesses_asked_for(
    port: Port, witness_settings: WitnessFactory, tmp_path: Path
) -> None:
    bundle, cosigner = await cosigned_bundle(port, witness_settings)
    trusted = await anchors(port)
    folder = tmp_path
    (folder / "bundle.json").write_bytes(bundle)
    (folder / "jwks.json").write_bytes(trusted.identity_jwks)
    base = [
        "evidence",
        "verify",
        str(folder / "bundle.json"),
        "--log-key",
        trusted.log_key,
        "--identity-jwks",
        str(folder / "jwks.json"),
        "--witness",
        cosigner.vkey,
    ]
    runner = CliRunner()
    ok = runner.invoke(cli, [*base, "--min-witnesses", "1"])
    assert ok.exit_code == 0, ok.output
    assert "witnesses: cosigned by 1" in ok.output
    too_many = runner.invoke(
        cli, [*base, "--witness", OTHER.verifier().vkey, "--min-witnesses", "2"]
    )
    assert too_many.exit_code == 1
    assert "witnesses" in too_many.output


async def test_the_export_waits_until_the_witnesses_required_have_cosigned(
    port: Port, witness_settings: WitnessFactory
) -> None:
    chain = await picked_up(port)
    witness = create_witness(witness_settings([port.release.state.audit_log.verifier_key]))
    cosigner = witness_cosigner(witness)
    settings = port.release.state.settings
    witnesses = [f"http://witness.test,{cosigner.vkey}"]
    port.release.state.settings = settings.model_copy(
        update={"audit_witnesses": witnesses, "audit_min_witnesses": 1}
    )
    url = f"/v1/releases/{chain.release_id}/evidence"
    await integrate_all(port.release)
    waiting = await port.client.get(url, headers=port["security"].headers)
    assert waiting.status_code == 409
    assert waiting.json()["code"] == "evidence_not_sequenced"
    assert "cosigned" in waiting.json()["detail"]
    async with running(witness):
        pool = WitnessPool(
            port.release.state.sessions,
            [("http://witness.test", cosigner)],
            transport=httpx.ASGITransport(app=witness),
        )
        await integrate_all(port.release)
        async with port.release.state.sessions() as session:
            latest = await audit_repo.latest_checkpoint(session)
        assert latest is not None
        await pool.push(latest.note)
    shown = await port.client.get(url, headers=port["security"].headers)
    assert shown.status_code == 200, shown.text
    assert verify(await anchors(port), shown.content, [cosigner], 1)
