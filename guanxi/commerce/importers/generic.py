"""Generic customers and orders files (CSV/XLSX) with a column mapping.

A mapping is {"column header": "target"}; targets are the preset's fields (CUSTOMER_FIELDS,
ORDER_FIELDS) or `identity:<kind>` for any identity kind (identity:phone, identity:qq…). The
mapping comes from the run's options (`mapping`, or `mapping_name` of a saved ImportMapping);
without one, the first saved mapping of the kind whose columns are all in the file is used, and
failing that, headers that name a target or a known alias (手机, 邮箱, 姓名…) map themselves.

Platform-scoped identities (taobao_nick, shopify_id, woocommerce_id, external_id, wechat_openid)
are namespaced by the store source. Customer profile fields are written on customers the import
creates; existing customers keep theirs (survivorship rules decide later changes).
"""

from datetime import date
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from guanxi.commerce.importers.base import ImportContext, Row, RowIssue
from guanxi.commerce.importers.platform import (
    SKIPPED,
    CustomerChunk,
    OrderRecordPreset,
    PersonRecordPreset,
    RowRejected,
    dropped_value_warnings,
    parse_datetime,
    parse_decimal,
)
from guanxi.commerce.importers.reading import ImportFileError
from guanxi.commerce.importers.taobao import DATE_FORMATS, STATUSES, _normal_status
from guanxi.commerce.models import Channel, ImportMapping, Order
from guanxi.commerce.phrases import (
    BAD_BIRTHDAY,
    BAD_GENDER,
    EMPTY_ROW,
    MISSING_DATE,
    MISSING_ID,
    NO_IDENTITY,
    UNKNOWN_STATUS,
)
from guanxi.commerce.records import OrderRecord, PersonRecord
from guanxi.customers.models import Gender, Identity

SHANGHAI = ZoneInfo("Asia/Shanghai")
IDENTITY_PREFIX = "identity:"
NAMESPACED_KINDS = frozenset(
    {
        Identity.Kind.TAOBAO_NICK,
        Identity.Kind.TAOBAO_OAID,
        Identity.Kind.SHOPIFY_ID,
        Identity.Kind.WOOCOMMERCE_ID,
        Identity.Kind.EXTERNAL_ID,
        Identity.Kind.WECHAT_OPENID,
    }
)
CUSTOMER_FIELDS = ("name", "gender", "birthday", "province", "city", "district", "occupation", "notes")
ORDER_FIELDS = (
    "external_id",
    "number",
    "status",
    "placed_at",
    "paid_at",
    "updated_at",
    "total_amount",
    "refunded_amount",
    "currency",
    "device",
    "item_count",
    "customer_name",
)
ALIASES = {
    "name": ("姓名", "客户姓名", "customer name", "full name"),
    "gender": ("性别", "sex"),
    "birthday": ("生日", "出生日期", "date of birth", "birth date"),
    "province": ("省", "省份", "state"),
    "city": ("市", "城市"),
    "district": ("区", "区县"),
    "occupation": ("职业", "job"),
    "notes": ("备注", "note"),
    "identity:phone": ("phone", "mobile", "手机", "手机号", "手机号码", "电话", "联系电话", "cell"),
    "identity:email": ("email", "e-mail", "邮箱", "电子邮件", "mail"),
    "identity:wechat_unionid": ("unionid", "微信unionid"),
    "identity:qq": ("qq", "qq号"),
    "identity:weibo": ("weibo", "微博"),
    "identity:taobao_nick": ("买家会员名", "旺旺", "淘宝昵称", "taobao nick"),
    "identity:external_id": ("customer id", "customerid", "客户编号", "会员编号"),
    "external_id": ("order id", "订单编号", "订单号", "order number"),
    "status": ("订单状态", "order status"),
    "placed_at": ("order date", "下单时间", "订单创建时间", "created at", "date"),
    "paid_at": ("payment date", "付款时间", "订单付款时间", "paid at"),
    "updated_at": ("修改时间", "updated at", "last modified"),
    "total_amount": ("total", "amount", "总金额", "订单金额", "金额"),
    "refunded_amount": ("refund", "退款金额", "refunded"),
    "currency": ("币种", "货币"),
    "device": ("设备", "是否手机订单"),
    "item_count": ("quantity", "件数", "宝贝总数量", "items"),
    "customer_name": ("收货人", "buyer name"),
}
STATUS_WORDS = {
    "pending": Order.Status.CREATED,
    "unpaid": Order.Status.CREATED,
    "processing": Order.Status.PAID,
    "fulfilled": Order.Status.SHIPPED,
    "complete": Order.Status.COMPLETED,
    "canceled": Order.Status.CANCELLED,
} | {value: value for value in Order.Status.values}
DEVICE_WORDS = {
    "mobile": Order.Device.MOBILE,
    "手机": Order.Device.MOBILE,
    "手机订单": Order.Device.MOBILE,
    "是": Order.Device.MOBILE,
    "pc": Order.Device.PC,
    "电脑": Order.Device.PC,
    "否": Order.Device.PC,
    "app": Order.Device.APP,
    "offline": Order.Device.OFFLINE,
    "门店": Order.Device.OFFLINE,
}
GENDER_WORDS = {
    "男": Gender.MALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "女": Gender.FEMALE,
    "f": Gender.FEMALE,
}
GENDER_WORDS |= {"female": Gender.FEMALE}


def mapping_targets(kind: str) -> tuple[str, ...]:
    fields = CUSTOMER_FIELDS if kind == GenericCustomersPreset.kind else ORDER_FIELDS
    return (*fields, *(f"{IDENTITY_PREFIX}{value}" for value in Identity.Kind.values))


def resolve_mapping(kind: str, header: list[str], params: dict[str, Any]) -> dict[str, int]:
    """Target → column position, from the run's mapping, a saved one, or the header itself."""
    positions = {name.casefold(): index for index, name in reversed(list(enumerate(header)))}
    mapping = params.get("mapping")
    if not mapping and params.get("mapping_name"):
        saved = ImportMapping.objects.filter(kind=kind, name=params["mapping_name"]).first()
        if saved is None:
            raise ImportFileError(_("No saved mapping named %(name)s") % {"name": params["mapping_name"]})
        mapping = saved.mapping
    if not mapping:
        for saved in ImportMapping.objects.filter(kind=kind).order_by("name"):
            if saved.mapping and all(column.casefold() in positions for column in saved.mapping):
                mapping = saved.mapping
                break
    targets = mapping_targets(kind)
    if mapping:
        unknown = sorted(set(mapping.values()) - set(targets) - {""})
        if unknown:
            raise ImportFileError(_("Unknown mapping targets: %(targets)s") % {"targets": ", ".join(unknown)})
        absent = sorted(column for column in mapping if column.casefold() not in positions)
        if absent:
            raise ImportFileError(
                _("Mapped columns not in the file: %(columns)s") % {"columns": ", ".join(absent)}
            )
        return {target: positions[column.casefold()] for column, target in mapping.items() if target}
    found: dict[str, int] = {}
    for target in targets:
        for name in (target, target.removeprefix(IDENTITY_PREFIX), *ALIASES.get(target, ())):
            if name.casefold() in positions and positions[name.casefold()] not in found.values():
                found[target] = positions[name.casefold()]
                break
    return found


def person_from(
    cells: list[str], columns: dict[str, int], header: list[str], source: str, name_field: str = "name"
) -> PersonRecord:
    person = PersonRecord()
    for target, index in columns.items():
        if target.startswith(IDENTITY_PREFIX):
            kind = target.removeprefix(IDENTITY_PREFIX)
            namespace = source if kind in NAMESPACED_KINDS else ""
            person.add(kind, cells[index], namespace=namespace, column=header[index])
    name = cells[columns[name_field]].strip() if name_field in columns else ""
    if name:
        person.profile["name"] = name[:100]
    return person


class GenericMappingMixin:
    kind: ClassVar[str]

    def _map(self, context: ImportContext, required: tuple[str, ...]) -> None:
        context.columns = resolve_mapping(self.kind, context.header, context.run.params)
        missing = [name for name in required if name not in context.columns]
        if missing:
            raise ImportFileError(
                _("Required columns missing: %(columns)s (found: %(found)s)")
                % {"columns": ", ".join(missing), "found": ", ".join(context.header) or "-"}
            )


class GenericCustomersPreset(GenericMappingMixin, PersonRecordPreset):
    kind = "generic_customers"
    label = _("Customers (CSV/XLSX, any columns)")
    columns: ClassVar[dict] = {}
    required = frozenset()
    chunk_size = 2_000

    def begin(self, context: ImportContext) -> None:
        self._map(context, ())
        if not any(target.startswith(IDENTITY_PREFIX) for target in context.columns):
            raise ImportFileError(_("Map at least one column to an identity (phone, email, member id…)"))
        context.state["source"] = context.store_source or "import"

    def parse(self, rows: list[Row], context: ImportContext) -> CustomerChunk:
        parsed = CustomerChunk()
        header, columns = context.header, context.columns
        for number, cells in rows:
            if not any(cell.strip() for cell in cells):
                parsed.result.issues.append(RowIssue(number, "", "", EMPTY_ROW(), SKIPPED))
                continue
            person = person_from(cells, columns, header, context.state["source"])
            if not person.keys:
                column = next(header[i] for t, i in columns.items() if t.startswith(IDENTITY_PREFIX))
                parsed.result.issues.append(
                    RowIssue(
                        number,
                        column,
                        cells[columns[next(t for t in columns if t.startswith(IDENTITY_PREFIX))]],
                        NO_IDENTITY(),
                    )
                )
                continue
            try:
                person.profile.update(self._profile(cells, columns, header))
            except RowRejected as rejected:
                parsed.result.issues.append(rejected.issue(number))
                continue
            parsed.people.append(person)
            parsed.result.issues.extend(dropped_value_warnings(number, person))
        return parsed

    def _profile(self, cells: list[str], columns: dict[str, int], header: list[str]) -> dict[str, Any]:
        profile: dict[str, Any] = {"source_channel": Channel.OWN_SITE}
        for name in CUSTOMER_FIELDS:
            if name not in columns or name == "name":
                continue
            value = cells[columns[name]].strip()
            if not value:
                continue
            if name == "gender":
                gender = GENDER_WORDS.get(value.casefold())
                if gender is None:
                    raise RowRejected(header[columns[name]], value, BAD_GENDER())
                profile[name] = gender
            elif name == "birthday":
                try:
                    profile[name] = date.fromisoformat(value.replace("/", "-")[:10])
                except ValueError:
                    raise RowRejected(header[columns[name]], value, BAD_BIRTHDAY()) from None
            else:
                profile[name] = value[:32] if name in ("province", "city", "district") else value[:100]
        return profile


class GenericOrdersPreset(GenericMappingMixin, OrderRecordPreset):
    kind = "generic_orders"
    label = _("Orders (CSV/XLSX, any columns)")
    columns: ClassVar[dict] = {}
    required = frozenset()
    channel = Channel.OWN_SITE
    default_source = "import"
    store_name = _("Imported orders")

    def begin(self, context: ImportContext) -> None:
        self._map(context, ("external_id", "placed_at", "total_amount"))
        super().begin(context)

    def convert(self, cells: list[str], context: ImportContext) -> OrderRecord:
        columns, header = context.columns, context.header

        def cell(name: str) -> str:
            return cells[columns[name]].strip() if name in columns else ""

        def column(name: str) -> str:
            return header[columns[name]] if name in columns else name

        external_id = cell("external_id").lstrip("'")
        if not external_id:
            raise RowRejected(column("external_id"), "", MISSING_ID())
        placed_at = parse_datetime(cell("placed_at"), column("placed_at"), SHANGHAI, formats=DATE_FORMATS)
        if placed_at is None:
            raise RowRejected(column("placed_at"), "", MISSING_DATE())
        paid_at = parse_datetime(cell("paid_at"), column("paid_at"), SHANGHAI, formats=DATE_FORMATS)
        status = self._status(cell("status"), paid_at, column("status"))
        device = DEVICE_WORDS.get(cell("device").casefold(), Order.Device.UNKNOWN)
        count = cell("item_count")
        person = person_from(cells, columns, header, context.state["source"], name_field="customer_name")
        return OrderRecord(
            external_id=external_id[:128],
            number=(cell("number") or external_id)[:128],
            status=status,
            placed_at=placed_at,
            paid_at=paid_at,
            source_updated_at=parse_datetime(
                cell("updated_at"), column("updated_at"), SHANGHAI, formats=DATE_FORMATS
            ),
            total_amount=parse_decimal(cell("total_amount"), column("total_amount")),
            refunded_amount=parse_decimal(cell("refunded_amount"), column("refunded_amount"), required=False),
            currency=(cell("currency") or self.currency).upper()[:3],
            device=device,
            item_count=int(count) if count.isdigit() else 0,
            person=None if person.is_empty else person,
        )

    def _status(self, raw: str, paid_at: Any, column: str) -> str:
        if not raw:
            return Order.Status.PAID if paid_at is not None else Order.Status.CREATED
        status = STATUS_WORDS.get(raw.casefold()) or STATUSES.get(_normal_status(raw))
        if status is None:
            raise RowRejected(column, raw, UNKNOWN_STATUS(status=raw))
        return status
