"""Templates: ownership table of spec §2.8, validation, rendering from a template."""

from __future__ import annotations

from typing import Any

from tests.integration.server.conftest import Running, assert_error, tiny_script


def template_script() -> dict[str, Any]:
    script = tiny_script()
    script["scenes"][0]["duration"] = "{{secs}}"
    script["scenes"][0]["elements"][0]["text"] = "Hello {{name}}"
    return script


def create(service: Running, key: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Promo", "script": template_script(), **fields}
    response = service.request("POST", "/api/templates", key, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_create_returns_the_template_with_variables_in_first_use_order(held: Running) -> None:
    key = held.account().live_key
    template = create(held, key, name="  Promo  ")
    assert template["id"].startswith("tpl_") and len(template["id"]) == 16
    assert template["name"] == "Promo"
    assert template["is_public"] is False and template["owner"] == "me"
    assert template["variables"] == ["secs", "name"]
    assert template["script"] == template_script()
    assert template["created_at"] == template["updated_at"]


def test_template_script_is_schema_checked_with_placeholders_allowed(held: Running) -> None:
    key = held.account().live_key
    bad = template_script()
    bad["scenes"][0]["background"] = 7
    assert_error(
        held.request("POST", "/api/templates", key, json={"name": "x", "script": bad}),
        400,
        "SCHEMA_VALIDATION_ERROR",
        path="scenes.0.background",
    )
    assert_error(
        held.request("POST", "/api/templates", key, json={"name": "x" * 101, "script": bad}),
        400,
        "VALIDATION_ERROR",
        path="name",
    )
    assert_error(
        held.request(
            "POST", "/api/templates", key, json={"name": "x", "script": {}, "is_public": "yes"}
        ),
        400,
        "INVALID_REQUEST",
    )


def test_ownership_table(held: Running) -> None:
    owner, other = held.account(), held.account()
    private = create(held, owner.live_key, name="Private")
    public = create(held, owner.live_key, name="Public", is_public=True)
    # the owner
    assert held.request("GET", f"/api/templates/{private['id']}", owner.live_key).status_code == 200
    # another account: public readable (owner "other"), private invisible
    seen = held.request("GET", f"/api/templates/{public['id']}", other.live_key).json()
    assert seen["owner"] == "other" and seen["script"] == template_script()
    for method in ("GET", "PUT", "DELETE"):
        assert_error(
            held.request(
                method,
                f"/api/templates/{private['id']}",
                other.live_key,
                json={"name": "x"} if method == "PUT" else None,
            ),
            404,
            "NOT_FOUND",
        )
    assert_error(
        held.request("DELETE", f"/api/templates/{public['id']}", other.live_key), 403, "FORBIDDEN"
    )
    assert_error(
        held.request(
            "POST",
            "/api/render/template",
            other.live_key,
            json={"template_id": private["id"], "variables": {"secs": 1, "name": "x"}},
        ),
        404,
        "TEMPLATE_NOT_FOUND",
    )
    listed = held.request("GET", "/api/templates", other.live_key).json()["templates"]
    assert [t["id"] for t in listed] == [public["id"]]
    assert "script" not in listed[0]
    mine = held.request("GET", "/api/templates", owner.live_key).json()["templates"]
    assert {t["id"] for t in mine} == {private["id"], public["id"]}


def test_update_and_delete(held: Running) -> None:
    key = held.account().live_key
    template = create(held, key)
    assert_error(
        held.request("PUT", f"/api/templates/{template['id']}", key, json={}),
        400,
        "INVALID_REQUEST",
    )
    new_script = tiny_script()
    new_script["scenes"][0]["background"] = "{{color}}"
    updated = held.request(
        "PUT",
        f"/api/templates/{template['id']}",
        key,
        json={"script": new_script, "is_public": True},
    ).json()
    assert updated["name"] == "Promo" and updated["is_public"] is True
    assert updated["variables"] == ["color"]
    deleted = held.request("DELETE", f"/api/templates/{template['id']}", key)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(
        held.request("POST", "/api/render/template", key, json={"template_id": template["id"]}),
        404,
        "TEMPLATE_NOT_FOUND",
    )


def test_render_from_own_and_public_templates(held: Running) -> None:
    owner, other = held.account(credits=100), held.account(credits=100)
    public = create(held, owner.live_key, is_public=True)
    accepted = held.request(
        "POST",
        "/api/render/template",
        other.live_key,
        json={
            "template_id": public["id"],
            "variables": {"secs": 3.5, "name": "Ada", "unused": 1},
            "webhook_uri": "http://127.0.0.1:9/hook",
        },
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["estimated_credits"] == 4  # after substitution: ceil(3.5)
    assert accepted.json()["credits_remaining"] == 96
    job = held.job(other.live_key, accepted.json()["job_id"])
    assert job["template_id"] == public["id"]
    # the resolved script is checked with script-relative paths
    assert_error(
        held.request(
            "POST",
            "/api/render/template",
            other.live_key,
            json={"template_id": public["id"], "variables": {"secs": "long", "name": "x"}},
        ),
        400,
        "SCHEMA_VALIDATION_ERROR",
        path="scenes.0.duration",
    )
    # idempotent replay on the template path
    body = {"template_id": public["id"], "variables": {"secs": 1, "name": "y"}}
    headers = {"Idempotency-Key": "tpl-1"}
    one = held.request("POST", "/api/render/template", owner.live_key, json=body, headers=headers)
    two = held.request("POST", "/api/render/template", owner.live_key, json=body, headers=headers)
    assert one.json()["job_id"] == two.json()["job_id"]
    assert two.headers["idempotent-replayed"] == "true"
