"""Taobao and Tmall seller order reports: encodings, padded headers, statuses, devices, masked contacts."""

import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from guanxi.commerce.importers import run_import
from guanxi.commerce.models import ImportRun, Order, Store
from guanxi.customers.models import Customer, Identity, IdentityHint

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The published Tmall finance report header, trailing spaces included.
TMALL_HEADER = [
    "订单编号",
    "总金额",
    "买家实际支付金额",
    "收货地址 ",
    "订单创建时间",
    "订单付款时间 ",
    "退款金额",
]
# The 37-column Taobao 订单报表 header (third-party emulation sample); two cells padded as real exports are.
TAOBAO_HEADER = [
    "订单编号",
    "买家会员名",
    "买家支付宝账号",
    "买家应付货款",
    "买家应付邮费",
    "买家支付积分",
    "总金额",
    "返点积分",
    "支付金额",
    "买家实际支付积分",
    "订单状态",
    "买家留言",
    "收货人",
    "收货地址",
    "运送方式",
    "联系电话",
    "联系手机",
    "订单创建时间",
    "订单付款时间",
    "宝贝标题",
    "宝贝种类",
    "物流单号",
    "物流公司",
    "订单备注",
    "宝贝总数量",
    "店铺Id",
    "店铺名称",
    "订单关闭原因",
    "卖家服务费",
    "买家服务费",
    "发票抬头",
    "是否手机订单",
    "分阶段订单信息",
    "定金排名",
    "修改后的sku",
    "修改后的收货地址",
    "异常信息",
    "",
]
TAOBAO_HEADER[13] += " "
TAOBAO_HEADER[18] += "  "


def taobao_row(**values: str) -> list[str]:
    defaults = {
        "买家应付邮费": "0.00",
        "买家支付积分": "0",
        "返点积分": "0",
        "买家实际支付积分": "0",
        "运送方式": "快递",
        "宝贝种类": "1",
        "店铺Id": "57301234",
        "店铺名称": "关系家纺旗舰店",
        "卖家服务费": "0",
        "买家服务费": "0",
    }
    merged = defaults | values
    return [merged.get(name.strip(), "") for name in TAOBAO_HEADER]


TAOBAO_ROWS = [
    taobao_row(
        订单编号="2890012345678901234",
        买家会员名="tb_lilei",
        买家支付宝账号="li***@163.com",
        买家应付货款="199.00",
        总金额="199.00",
        支付金额="199.00",
        订单状态="交易成功",
        收货人="李雷",
        收货地址="浙江省 杭州市 西湖区 文三路100号(310000)",
        联系手机="138****5678",
        订单创建时间="2024-03-01 10:15:20",
        订单付款时间="2024-03-01 10:16:02",
        宝贝标题="纯棉毛巾三条装",
        物流公司="中通快递",
        宝贝总数量="3",
        是否手机订单="手机订单",
    ),
    taobao_row(
        订单编号="2890012345678901235",
        买家会员名="tb_hanmeimei",
        买家应付货款="89.90",
        总金额="89.90",
        支付金额="0.00",
        订单状态="等待买家付款",
        联系手机="13912345678",
        订单创建时间="2024-03-02 21:00:00",
        宝贝总数量="1",
    ),
    taobao_row(
        订单编号="'2890012345678901236",
        买家会员名="tb_lilei",
        总金额="59.00",
        支付金额="59.00",
        订单状态="买家已付款，等待卖家发货",
        订单创建时间="2024/03/03 08:00:00",
        订单付款时间="2024/03/03 08:01:00",
        宝贝总数量="1",
        是否手机订单="",
    ),
    taobao_row(
        订单编号="2890012345678901237",
        买家会员名="tb_wangfang",
        总金额="120.00",
        支付金额="120.00",
        订单状态="卖家已发货，等待买家确认",
        订单创建时间="2024-03-04 12:00:00",
        订单付款时间="2024-03-04 12:02:00",
        联系手机="00000000000",
        是否手机订单="手机订单",
    ),
    taobao_row(
        订单编号="2890012345678901238",
        买家会员名="tb_wangfang",
        总金额="45.00",
        支付金额="0.00",
        订单状态="交易关闭",
        订单创建时间="2024-03-05 09:00:00",
        订单关闭原因="买家不想买了",
    ),
    taobao_row(
        订单编号="2890012345678901239",
        买家会员名="tb_zhaolei",
        总金额="300.00",
        支付金额="300.00",
        订单状态="交易关闭（退款）",
        订单创建时间="2024-03-06 09:00:00",
        订单付款时间="2024-03-06 09:05:00",
    ),
    taobao_row(
        订单编号="2.89001234567890E+18",
        买家会员名="tb_zhaolei",
        总金额="1.00",
        订单状态="交易成功",
        订单创建时间="2024-03-07 09:00:00",
    ),
    taobao_row(
        订单编号="2890012345678901240",
        买家会员名="",
        总金额="66.00",
        支付金额="66.00",
        订单状态="交易成功",
        联系手机="186****0001",
        订单创建时间="2024-03-08 09:00:00",
        订单付款时间="2024-03-08 09:00:30",
    ),
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_taobao_report_imports_statuses_devices_and_identities(tmp_path, unit_a, encoding):
    path = write_csv(tmp_path / "ExportOrderList.csv", TAOBAO_HEADER, TAOBAO_ROWS, encoding)

    run = run_import("taobao_orders", path, unit=unit_a, store_source="taobao:guanxi-home")

    assert run.state == ImportRun.State.SUCCEEDED
    assert run.params["encoding"] == ("gb18030" if encoding == "gbk" else "utf-8-sig")
    assert (run.counts["rows"], run.counts["imported"], run.counts["rejected"]) == (8, 7, 1)
    # Row 5's phone 00000000000 is a placeholder: the order is imported, the value reported dropped.
    assert list(run.row_errors.values_list("row", "column", "code")) == [
        (5, "联系手机", "dropped_phone"),
        (8, "订单编号", "order_id_scientific"),
    ]
    orders = {order.external_id: order for order in Order.objects.all()}
    assert {key: (o.status, o.device) for key, o in orders.items()} == {
        "2890012345678901234": ("completed", "mobile"),
        "2890012345678901235": ("created", "pc"),
        "2890012345678901236": ("paid", "pc"),
        "2890012345678901237": ("shipped", "mobile"),
        "2890012345678901238": ("closed", "pc"),
        "2890012345678901239": ("refunded", "pc"),
        "2890012345678901240": ("completed", "pc"),
    }
    first = orders["2890012345678901234"]
    assert (first.total_amount, first.currency, first.item_count) == (Decimal("199.00"), "CNY", 3)
    assert first.placed_at == datetime(2024, 3, 1, 10, 15, 20, tzinfo=SHANGHAI)
    assert first.paid_at == datetime(2024, 3, 1, 10, 16, 2, tzinfo=SHANGHAI)
    assert first.attributes["shop_name"] == "关系家纺旗舰店"
    assert orders["2890012345678901235"].paid_at is None  # unpaid
    # Both of tb_lilei's orders are on one customer, created from the first.
    assert orders["2890012345678901236"].customer_id == first.customer_id
    assert (first.customer.name, first.customer.province, first.customer.city) == ("李雷", "浙江省", "杭州市")
    assert orders["2890012345678901240"].customer is None
    assert orders["2890012345678901240"].attributes["masked_contact"] == "186****0001"
    assert Store.objects.get().channel == "taobao"


def test_masked_and_fake_phones_never_become_identities(tmp_path, unit_a):
    path = write_csv(tmp_path / "orders.csv", TAOBAO_HEADER, TAOBAO_ROWS, "gbk")

    run_import("taobao_orders", path, unit=unit_a, store_source="taobao:guanxi-home")

    assert sorted(Identity.objects.values_list("kind", "namespace", "value")) == [
        ("phone", "", "+8613912345678"),
        ("taobao_nick", "taobao:guanxi-home", "tb_hanmeimei"),
        ("taobao_nick", "taobao:guanxi-home", "tb_lilei"),
        ("taobao_nick", "taobao:guanxi-home", "tb_wangfang"),
        ("taobao_nick", "taobao:guanxi-home", "tb_zhaolei"),
    ]
    lilei = Identity.objects.get(value="tb_lilei").customer
    assert sorted(IdentityHint.objects.values_list("customer_id", "kind", "value")) == [
        (lilei.pk, "email", "li***@163.com"),
        (lilei.pk, "phone", "138****5678"),
    ]


def test_tmall_finance_report_with_padded_headers_derives_statuses(tmp_path, unit_a):
    rows = [
        [
            "3701234567890001",
            "128.00",
            "128.00",
            "上海 上海市 浦东新区 世纪大道1号",
            "2024-06-18 00:01:00",
            "2024-06-18 00:02:00",
            "0.00",
        ],
        [
            "3701234567890002",
            "56.00",
            "0.00",
            "北京 北京市 朝阳区 建国路2号",
            "2024-06-18 00:05:00",
            "",
            "0.00",
        ],
        [
            "3701234567890003",
            "99.00",
            "99.00",
            "广东省 深圳市 南山区 科技园3号",
            "2024-06-18 00:07:00",
            "2024-06-18 00:08:00",
            "99.00",
        ],
        ["3701234567890004", "abc", "0.00", "", "2024-06-18 00:09:00", "", ""],
    ]
    path = write_csv(tmp_path / "tmall.csv", TMALL_HEADER, rows, "utf-8-sig")

    run = run_import("tmall_orders", path, unit=unit_a, store_source="tmall:guanxi-home")

    assert run.state == ImportRun.State.SUCCEEDED
    assert list(run.row_errors.values_list("row", "column", "code")) == [(5, "总金额", "bad_amount")]
    assert sorted(Order.objects.values_list("external_id", "status", "paid_at", "refunded_amount")) == [
        ("3701234567890001", "paid", datetime(2024, 6, 18, 0, 2, tzinfo=SHANGHAI), Decimal("0.00")),
        ("3701234567890002", "created", None, Decimal("0.00")),
        ("3701234567890003", "refunded", datetime(2024, 6, 18, 0, 8, tzinfo=SHANGHAI), Decimal("99.00")),
    ]
    assert set(Order.objects.values_list("device", flat=True)) == {""}  # no 是否手机订单 column
    assert not Customer.objects.exists()  # no buyer column: guest orders
    assert Store.objects.get().channel == "tmall"


def test_reimport_is_idempotent_and_xlsx_reads_the_same(tmp_path, unit_a):
    csv_path = write_csv(tmp_path / "orders.csv", TAOBAO_HEADER, TAOBAO_ROWS, "gbk")
    workbook = Workbook()
    sheet = workbook.active
    for row in [TAOBAO_HEADER, *TAOBAO_ROWS]:
        sheet.append(row)
    xlsx_path = tmp_path / "orders.xlsx"
    workbook.save(xlsx_path)

    run_import("taobao_orders", csv_path, unit=unit_a, store_source="taobao:guanxi-home")
    again = run_import("taobao_orders", xlsx_path, unit=unit_a, store_source="taobao:guanxi-home")

    assert (again.counts["orders_created"], again.counts["orders_unchanged"]) == (0, 7)
    assert (Order.objects.count(), Customer.objects.count()) == (7, 4)


def test_unknown_status_is_derived_and_counted(tmp_path, unit_a):
    rows = [
        taobao_row(
            订单编号="1001",
            买家会员名="tb_a",
            总金额="10.00",
            订单状态="外星状态",
            订单创建时间="2024-03-01 10:00:00",
            订单付款时间="2024-03-01 10:01:00",
        )
    ]
    path = write_csv(tmp_path / "orders.csv", TAOBAO_HEADER, rows, "utf-8")

    run = run_import("taobao_orders", path, unit=unit_a)

    assert run.counts["statuses_unknown"] == 1
    assert Order.objects.get().status == "paid"


def test_report_without_amount_columns_fails_clearly(tmp_path, unit_a):
    path = write_csv(
        tmp_path / "orders.csv", ["订单编号", "订单创建时间"], [["1", "2024-01-01 00:00:00"]], "utf-8"
    )

    run = run_import("taobao_orders", path, unit=unit_a)

    assert run.state == ImportRun.State.FAILED
    assert run.message == "Required columns missing: 总金额 or 买家实际支付金额"
