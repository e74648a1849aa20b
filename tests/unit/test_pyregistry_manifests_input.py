"""manifests.check_go_readable: only manifests that Distribution and Go's encoding/json read as pyregistry does."""
import json

import pytest

from pyregistry import manifests
from pyregistry.errors import RegistryError

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def cases(digest=DIGEST):
    """(accepted, refused): manifest bodies by name, around an OCI manifest whose config and layer are `digest` (11 bytes)."""
    doc = {"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 11},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": 11}]}
    text = json.dumps(doc)
    body = text[1:-1]

    def _with(extra):
        return ("{" + body + "," + extra + "}").encode()

    accepted = {
        "plain": text.encode(),
        "trailing whitespace": (text + " \n").encode(),
        "negative size": text.replace('"size": 11', '"size": -11').encode(),
        "null annotations": _with('"annotations":null'),
        "surrogate pair": _with('"annotations":{"a":"\\ud83d\\ude00"}'),
        "non-ASCII UTF-8": _with('"annotations":{"a":"caf\u00e9 \u2603"}'),
        "valid base64 data": text.replace('"size": 11', '"size": 11, "data": "bGF5ZXI="', 1).encode(),
        "unknown field of any value": _with('"zzz":[1,{"a":null},1e999,' + "9" * 5000 + "]"),
        "annotation keys differing in case": _with('"annotations":{"a":"1","A":"2"}'),
        "platform": json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": [
            {"mediaType": manifests.OCI_MANIFEST, "digest": digest, "size": 1,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8", "os.features": ["x"]}}]}).encode(),
    }

    refused = {
        # encodings Go's decoder (and so Distribution) refuses
        "UTF-16 with BOM": text.encode("utf-16"),
        "UTF-16LE": text.encode("utf-16-le"),
        "UTF-16BE": text.encode("utf-16-be"),
        "UTF-32": text.encode("utf-32"),
        "UTF-8 with BOM": b"\xef\xbb\xbf" + text.encode(),
        "invalid UTF-8 outside strings": text.encode() + b"\xff",
        # what Go reads as U+FFFD, so not as stored
        "invalid UTF-8 in a string": _with('"annotations":{"a":"X"}').replace(b"X", b"\xff\xfe"),
        "Latin-1 in a string": _with('"annotations":{"a":"\u00e9"}').replace("\u00e9".encode(), b"\xe9"),
        "lone surrogate": _with('"annotations":{"a":"\\ud800"}'),
        # not JSON
        "NaN": _with('"x":NaN'),
        "Infinity": _with('"x":Infinity'),
        "-Infinity": _with('"x":-Infinity'),
        "NaN size": text.replace('"size": 11', '"size": NaN', 1).encode(),
        "trailing garbage": (text + "x").encode(),
        "two documents": (text + text).encode(),
        "control character": _with('"annotations":{"a":"\x01"}'),
        "empty": b"",
        # keys parsers read differently: duplicates, and Go's case-insensitive field match
        "duplicate layers": _with(f'"layers":[{{"mediaType":"x","digest":"{OTHER}","size":1}}]'),
        "duplicate identical key": _with('"schemaVersion":2'),
        "duplicate annotation": _with('"annotations":{"a":"1","a":"2"}'),
        "LAYERS after layers": _with(f'"LAYERS":[{{"mediaType":"x","digest":"{OTHER}","size":1}}]'),
        "Layers alone": text.replace('"layers"', '"Layers"').encode(),
        "long s in schemaVersion": text.replace('"schemaVersion"', '"\u017fchemaVersion"').encode(),
        "long s in a descriptor key": text.replace('"size": 11', '"size": 11, "\u017fize": 12', 1).encode(),
        "OS in a platform": json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": [
            {"mediaType": manifests.OCI_MANIFEST, "digest": digest, "size": 1, "platform": {"os": "linux", "OS": "windows"}}]}).encode(),
        "Subject": _with(f'"Subject":{{"mediaType":"x","digest":"{OTHER}","size":1}}'),
        "MediaType": text.replace('"mediaType": "application/vnd.oci.image.manifest', '"MediaType": "application/vnd.oci.image.manifest').encode(),
        "Digest in a descriptor": text.replace('"digest"', '"Digest"', 1).encode(),
        # types Go refuses to decode into the manifest's fields
        "schemaVersion 2.0": text.replace('"schemaVersion": 2', '"schemaVersion": 2.0').encode(),
        "schemaVersion string": text.replace('"schemaVersion": 2', '"schemaVersion": "2"').encode(),
        "schemaVersion true": text.replace('"schemaVersion": 2', '"schemaVersion": true').encode(),
        "size 11.0": text.replace('"size": 11', '"size": 11.0', 1).encode(),
        "size 1.1e1": text.replace('"size": 11', '"size": 1.1e1', 1).encode(),
        "size string": text.replace('"size": 11', '"size": "11"', 1).encode(),
        "size over int64": text.replace('"size": 11', '"size": 9223372036854775808', 1).encode(),
        "size of 5,000 digits": text.replace('"size": 11', '"size": ' + "9" * 5000, 1).encode(),
        "annotation not a string": _with('"annotations":{"a":1}'),
        "annotations a list": _with('"annotations":[]'),
        "mediaType a number": text.replace('"mediaType": "application/vnd.oci.image.layer.v1.tar"', '"mediaType": 1').encode(),
        "artifactType a number": _with('"artifactType":1'),
        "urls a string": text.replace('"size": 11', '"size": 11, "urls": "x"', 1).encode(),
        "data not base64": text.replace('"size": 11', '"size": 11, "data": "!!!"', 1).encode(),
        "platform os a number": json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": [
            {"mediaType": manifests.OCI_MANIFEST, "digest": digest, "size": 1, "platform": {"os": 1}}]}).encode(),
        # not an object
        "array": b"[]",
        "null": b"null",
        "string": b'"manifest"',
        "nested 10,000 deep": b"[" * 10000 + b"]" * 10000,
    }
    return accepted, refused


ACCEPTED, REFUSED = cases()


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted(name):
    manifests.check_go_readable(ACCEPTED[name])


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_as_manifest_invalid(name):
    with pytest.raises(RegistryError) as exc:
        manifests.check_go_readable(REFUSED[name])
    assert exc.value.code == "MANIFEST_INVALID" and exc.value.status == 400
    assert len(exc.value.body()) < 1000


def test_parse_of_a_stored_manifest_stays_lenient():
    """Manifests stored before these checks still read (parse() does not apply them); a huge number costs no int()."""
    info = manifests.parse(ACCEPTED["plain"][:-1] + b',"zzz":' + b"9" * 5000 + b"}")
    assert info.blobs == [DIGEST, DIGEST]
