"""Taobao and Tmall seller order reports (订单报表), CSV or XLSX, in UTF-8 (with or without BOM) or GBK.

One row is one order. Rules:

- 订单状态 maps to a status (STATUSES); 交易关闭 with a refund after payment is refunded. A file
  without the column (the Tmall finance report) derives it: no 订单付款时间 → created (unpaid),
  a refund covering the payment → refunded, otherwise paid. An unknown status text is derived the
  same way and counted in `statuses_unknown`.
- An empty 订单付款时间 means unpaid: paid_at stays empty.
- 是否手机订单: 手机订单/是/1 → mobile; anything else → PC (the export leaves PC orders empty);
  without the column the device is unknown.
- 总金额 is the total (else 买家实际支付金额, else 买家应付货款 + 买家应付邮费), in CNY; 退款金额 the refund.
- 买家会员名 is a taobao_nick identity namespaced by the store source (nicks seen in two stores
  are only a merge suggestion); 联系手机 and 买家支付宝账号 become phone or email identities when
  complete, and identity hints when masked (138****5678) — never identities.
- Times without a zone are China Standard Time.
"""

import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from guanxi.commerce.importers.base import ImportContext
from guanxi.commerce.importers.platform import OrderRecordPreset, RowRejected, parse_datetime, parse_decimal
from guanxi.commerce.importers.reading import ImportFileError
from guanxi.commerce.models import Channel, Order
from guanxi.commerce.phrases import BAD_ORDER_ID, MISSING_DATE, ORDER_ID_SCIENTIFIC
from guanxi.commerce.records import OrderRecord, PersonRecord
from guanxi.customers.identities import is_masked
from guanxi.customers.models import Identity

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATE_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y.%m.%d %H:%M:%S")
# Status texts with commas and brackets normalised to ASCII and spaces removed.
STATUSES = {
    "等待买家付款": Order.Status.CREATED,
    "买家已付款,等待卖家发货": Order.Status.PAID,
    "买家已付款": Order.Status.PAID,
    "等待卖家发货": Order.Status.PAID,
    "卖家部分发货": Order.Status.SHIPPED,
    "卖家已发货,等待买家确认": Order.Status.SHIPPED,
    "卖家已发货": Order.Status.SHIPPED,
    "买家已签收": Order.Status.DELIVERED,
    "交易成功": Order.Status.COMPLETED,
    "交易关闭": Order.Status.CLOSED,
    "交易关闭(退款)": Order.Status.REFUNDED,
    "退款成功": Order.Status.REFUNDED,
    "付款以前,卖家或买家主动关闭交易": Order.Status.CANCELLED,
    "交易取消": Order.Status.CANCELLED,
}
MOBILE_VALUES = frozenset({"手机订单", "是", "1", "y", "yes", "true", "手机", "无线"})
# Excel keeps long order numbers as text with ="…", a leading apostrophe or a tab.
EXCEL_TEXT = re.compile(r'^="?(.*?)"?$')
ORDER_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+\d+$")
ATTRIBUTE_COLUMNS = ("shop_id", "shop_name", "shipping_method", "close_reason", "title", "carrier")


def _normal_status(raw: str) -> str:
    return re.sub(r"\s+", "", raw).replace("，", ",").replace("（", "(").replace("）", ")")


class TaobaoOrdersPreset(OrderRecordPreset):
    kind = "taobao_orders"
    label = _("Taobao seller order report (订单报表, CSV/XLSX)")
    columns = {
        "order_id": ("订单编号", "订单号", "主订单编号"),
        "buyer_nick": ("买家会员名", "买家昵称"),
        "alipay": ("买家支付宝账号",),
        "payable": ("买家应付货款",),
        "postage": ("买家应付邮费",),
        "total": ("总金额",),
        "paid_amount": ("买家实际支付金额", "支付金额", "实际支付金额"),
        "status": ("订单状态",),
        "receiver": ("收货人", "收货人姓名"),
        "address": ("收货地址",),
        "shipping_method": ("运送方式",),
        "phone": ("联系电话",),
        "mobile": ("联系手机",),
        "created": ("订单创建时间", "创建时间", "下单时间"),
        "paid": ("订单付款时间", "付款时间"),
        "title": ("宝贝标题",),
        "carrier": ("物流公司",),
        "quantity": ("宝贝总数量",),
        "shop_id": ("店铺Id", "店铺ID"),
        "shop_name": ("店铺名称",),
        "close_reason": ("订单关闭原因",),
        "is_mobile": ("是否手机订单",),
        "refund": ("退款金额",),
    }
    required = frozenset({"order_id", "created"})
    channel = Channel.TAOBAO
    default_source = "taobao"
    store_name = _("Taobao shop")
    currency = "CNY"
    counters = (*OrderRecordPreset.counters, "statuses_unknown")

    def begin(self, context: ImportContext) -> None:
        if not {"total", "paid_amount", "payable"} & context.columns.keys():
            raise ImportFileError(_("Required columns missing: 总金额 or 买家实际支付金额"))
        super().begin(context)

    def convert(self, cells: list[str], context: ImportContext) -> OrderRecord:
        columns, header = context.columns, context.header

        def cell(name: str) -> str:
            index = columns.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        def column(name: str) -> str:
            return header[columns[name]] if name in columns else ""

        external_id = self._order_id(cell("order_id"), column("order_id"))
        placed_at = parse_datetime(cell("created"), column("created"), SHANGHAI, formats=DATE_FORMATS)
        if placed_at is None:
            raise RowRejected(column("created"), "", MISSING_DATE())
        paid_at = parse_datetime(cell("paid"), column("paid"), SHANGHAI, formats=DATE_FORMATS)
        paid_amount = parse_decimal(cell("paid_amount"), column("paid_amount"), required=False)
        if "total" in columns:
            total = parse_decimal(cell("total"), column("total"))
        elif "paid_amount" in columns:
            total = parse_decimal(cell("paid_amount"), column("paid_amount"))
        else:
            total = parse_decimal(cell("payable"), column("payable")) + parse_decimal(
                cell("postage"), column("postage"), required=False
            )
        refunded = parse_decimal(cell("refund"), column("refund"), required=False)
        status = self._status(cell("status"), paid_at, refunded, paid_amount or total, context)
        device = Order.Device.UNKNOWN
        if "is_mobile" in columns:
            mobile = cell("is_mobile").lower() in MOBILE_VALUES
            device = Order.Device.MOBILE if mobile else Order.Device.PC
        quantity = cell("quantity")
        return OrderRecord(
            external_id=external_id,
            number=external_id,
            status=status,
            placed_at=placed_at,
            paid_at=paid_at,
            total_amount=total,
            refunded_amount=refunded,
            currency="CNY",
            device=device,
            item_count=int(quantity) if quantity.isdigit() else 0,
            attributes={name: cell(name)[:200] for name in ATTRIBUTE_COLUMNS if cell(name)}
            | ({"status_text": cell("status")} if cell("status") else {})
            # Kept for merge suggestions even when the order has no customer to hang a hint on.
            | ({"masked_contact": cell("mobile")[:32]} if is_masked(cell("mobile")) else {}),
            person=self._person(cell, column, context.state["source"]),
        )

    def _order_id(self, raw: str, column: str) -> str:
        value = raw.strip().lstrip("'\t")
        match = EXCEL_TEXT.match(value)
        if match:
            value = match.group(1).strip()
        if SCIENTIFIC.match(value):
            raise RowRejected(column, raw, ORDER_ID_SCIENTIFIC())
        if not ORDER_ID.match(value):
            raise RowRejected(column, raw, BAD_ORDER_ID())
        return value

    def _status(
        self, raw: str, paid_at: Any, refunded: Decimal, paid_amount: Decimal, context: ImportContext
    ) -> str:
        if raw:
            status = STATUSES.get(_normal_status(raw))
            if status == Order.Status.CLOSED and paid_at is not None and refunded > 0:
                return Order.Status.REFUNDED
            if status is not None:
                return status
            context.state["unknown_statuses"] = context.state.get("unknown_statuses", 0) + 1
        if paid_at is None:
            return Order.Status.CREATED
        if refunded > 0 and refunded >= paid_amount:
            return Order.Status.REFUNDED
        return Order.Status.PAID

    def _person(self, cell: Any, column: Any, source: str) -> PersonRecord | None:
        person = PersonRecord()
        person.add(
            Identity.Kind.TAOBAO_NICK, cell("buyer_nick"), namespace=source, column=column("buyer_nick")
        )
        person.add(Identity.Kind.PHONE, cell("mobile"), column=column("mobile"))
        person.add(Identity.Kind.PHONE, cell("phone"), column=column("phone"))
        alipay = cell("alipay")
        kind = Identity.Kind.EMAIL if "@" in alipay else Identity.Kind.PHONE
        person.add(kind, alipay, column=column("alipay"))
        if person.is_empty:
            return None
        if cell("receiver"):
            person.profile["name"] = cell("receiver")[:100]
        parts = cell("address").split()
        for field, part in zip(("province", "city", "district"), parts[:3], strict=False):
            person.profile[field] = part[:32]
        person.profile["source_channel"] = self.channel
        return person

    def replay(self, rows: list, context: ImportContext) -> None:
        super().replay(rows, context)
        context.state.pop("unknown_statuses", None)  # counted when those rows were written

    def write(self, parsed: Any, context: ImportContext) -> Any:
        result = super().write(parsed, context)
        result.counts["statuses_unknown"] += context.state.pop("unknown_statuses", 0)
        return result


class TmallOrdersPreset(TaobaoOrdersPreset):
    kind = "tmall_orders"
    label = _("Tmall seller order report (订单报表, CSV/XLSX)")
    channel = Channel.TMALL
    default_source = "tmall"
    store_name = _("Tmall shop")
