"""`ItemStore` on one DynamoDB table (partition key `pk`, sort key `sk`, TTL on `expires_at`).

Fields are stored as top-level attributes so conditions can name them. Expired items linger
until DynamoDB's TTL sweep, so every read and every condition also checks `expires_at`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ..clock import Clock
from ..errors import StorageError
from .items import Item, check_fields

_ser = TypeSerializer()
_de = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _to_attrs(item: Item) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items()}


def _from_attrs(attrs: dict[str, Any]) -> Item:
    return {
        k: _plain(_de.deserialize(v))
        for k, v in attrs.items()
        if k not in ("pk", "sk", "expires_at")
    }


class _Expr:
    """Builds placeholders for an expression (names #n0.., values :v0..)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, field: str) -> str:
        key = f"#n{len(self.names)}"
        self.names[key] = field
        return key

    def value(self, value: Any) -> str:
        key = f":v{len(self.values)}"
        self.values[key] = _ser.serialize(value)
        return key

    def live(self, now: int) -> str:
        exp = self.name("expires_at")
        return f"(attribute_not_exists({exp}) OR {exp} > {self.value(now)})"

    def expect(self, expect: Item | None) -> list[str]:
        parts = []
        for field, wanted in (expect or {}).items():
            n = self.name(field)
            if wanted is None:
                parts.append(
                    f"(attribute_not_exists({n}) OR attribute_type({n}, {self.value('NULL')}))"
                )
            else:
                parts.append(f"{n} = {self.value(wanted)}")
        return parts

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


def _conditional_failed(exc: ClientError) -> bool:
    code: object = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


class DynamoItemStore:
    def __init__(self, client: Any, table: str, clock: Clock) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock.now())

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def get(self, pk: str, sk: str) -> Item | None:
        try:
            reply = self._client.get_item(
                TableName=self._table, Key=self._key(pk, sk), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"get failed: {exc}") from exc
        attrs = reply.get("Item")
        if attrs is None:
            return None
        expires = attrs.get("expires_at")
        if expires is not None and int(expires["N"]) <= self._now():
            return None
        return _from_attrs(attrs)

    def put(
        self,
        pk: str,
        sk: str,
        item: Item,
        *,
        expires_at: int | None = None,
        if_absent: bool = False,
    ) -> bool:
        check_fields(item)
        attrs = {**_to_attrs(item), **self._key(pk, sk)}
        if expires_at is not None:
            attrs["expires_at"] = {"N": str(expires_at)}
        kwargs: dict[str, Any] = {}
        if if_absent:
            expr = _Expr()
            kwargs = {
                "ConditionExpression": f"attribute_not_exists({expr.name('pk')}) OR "
                f"{expr.name('expires_at')} <= {expr.value(self._now())}",
                **expr.kwargs(),
            }
        try:
            self._client.put_item(TableName=self._table, Item=attrs, **kwargs)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise StorageError(f"put failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"put failed: {exc}") from exc
        return True

    def update(self, pk: str, sk: str, changes: Item, *, expect: Item | None = None) -> Item | None:
        check_fields(changes)
        expr = _Expr()
        sets = [f"{expr.name(k)} = {expr.value(v)}" for k, v in changes.items()]
        conditions = [f"attribute_exists({expr.name('pk')})", expr.live(self._now())]
        conditions += expr.expect(expect)
        try:
            reply = self._client.update_item(
                TableName=self._table,
                Key=self._key(pk, sk),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=" AND ".join(conditions),
                ReturnValues="ALL_NEW",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise StorageError(f"update failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"update failed: {exc}") from exc
        return _from_attrs(reply["Attributes"])

    def delete(self, pk: str, sk: str, *, expect: Item | None = None) -> Item | None:
        expr = _Expr()
        conditions = [f"attribute_exists({expr.name('pk')})", expr.live(self._now())]
        conditions += expr.expect(expect)
        try:
            reply = self._client.delete_item(
                TableName=self._table,
                Key=self._key(pk, sk),
                ConditionExpression=" AND ".join(conditions),
                ReturnValues="ALL_OLD",
                **expr.kwargs(),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise StorageError(f"delete failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"delete failed: {exc}") from exc
        attrs = reply.get("Attributes")
        return None if attrs is None else _from_attrs(attrs)

    def query(
        self, pk: str, prefix: str = "", *, limit: int | None = None, newest_first: bool = False
    ) -> list[tuple[str, Item]]:
        expr = _Expr()
        key_cond = f"{expr.name('pk')} = {expr.value(pk)}"
        if prefix:
            key_cond += f" AND begins_with({expr.name('sk')}, {expr.value(prefix)})"
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": key_cond,
            "FilterExpression": expr.live(self._now()),
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
            **expr.kwargs(),
        }
        out: list[tuple[str, Item]] = []
        try:
            while True:
                reply = self._client.query(**kwargs)
                for attrs in reply.get("Items", []):
                    out.append((attrs["sk"]["S"], _from_attrs(attrs)))
                    if limit is not None and len(out) >= limit:
                        return out
                if "LastEvaluatedKey" not in reply:
                    return out
                kwargs["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"query failed: {exc}") from exc

    def increment(self, pk: str, sk: str, field: str, by: int, *, expires_at: int) -> int:
        expr = _Expr()
        exp = expr.name("expires_at")
        update = (
            f"ADD {expr.name(field)} {expr.value(by)} "
            f"SET {exp} = if_not_exists({exp}, {expr.value(expires_at)})"
        )
        try:
            reply = self._client.update_item(
                TableName=self._table,
                Key=self._key(pk, sk),
                UpdateExpression=update,
                ReturnValues="UPDATED_NEW",
                **expr.kwargs(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"increment failed: {exc}") from exc
        return int(reply["Attributes"][field]["N"])


def create_table(client: Any, table: str) -> None:
    """The table as infra/ deploys it (on-demand, TTL on `expires_at`); used by tests."""
    client.create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
