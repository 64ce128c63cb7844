"""inspect_export and `analysis-kit inspect` on exports this project did not make.

Each export is small CSV text in the shape real exports have (see the value shapes collected for
the kit): a UCI Online Retail extract, a CRM pipeline, a Chinese customer list, a Tmall order
export. Expected counts are computed here with plain pandas, or with clean_table as an
independent path through the parsers.
"""

import io
import json

import pandas as pd
import pytest

from analysis_kit.cleaning import clean_table
from analysis_kit.cli import main
from analysis_kit.columns import CHOICES
from analysis_kit.errors import ReadError, SchemaError
from analysis_kit.inspection import Inspection, inspect_export
from analysis_kit.io import read_table
from analysis_kit.privacy import find_unmasked, mask_text

UCI_RETAIL = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/1/2010 8:34,1.69,13047,United Kingdom
C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom
536414,22139,,56,12/1/2010 11:52,0,,United Kingdom
537226,22811,SET OF 6 T-LIGHTS CACTI,6,12/6/2010 8:34,2.95,15987,United Kingdom
538171,21499,BLUE POLKADOT WRAP,25,12/9/2010 20:01,0.42,17841,United Kingdom
539993,22386,JUMBO BAG PINK POLKADOT,10,12/23/2010 13:15,1.95,13089,United Kingdom
581587,22138,BAKING SET 9 PIECE RETROSPOT,3,12/9/2011 12:50,4.95,12680,France
"""

CRM_PIPELINE = """\
opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value
1C1I7A6R,Moses Frase,GTX Plus Basic,Cancity,Won,2016-10-20,2017-03-01,1054
Z063OYW0,Darcel Schlecht,GTXPro,Isdom,Won,2016-10-25,2017-03-11,4514
EC4QE1BX,Darcel Schlecht,MG Special,Cancity,Won,2016-10-25,2017-03-07,50
MV1LWRNH,Moses Frase,GTX Basic,Codehow,Won,2016-10-25,2017-03-09,588
ZNBS69V1,Anna Snelling,MG Special,Ron-tech,Lost,2016-10-29,2017-03-01,0
7GN8Q4LL,Markita Hansen,GTX Basic,Cheers,Lost,2016-11-01,2017-03-18,0
OLK9LKZB,Niesha Huffines,GTX Basic,Zathunicon,Engaging,2016-11-01,,
QQ8RA9B2,Niesha Huffines,GTX Pro,Zathunicon,On Hold,2016-11-03,,
K1PTV3XN,Moses Frase,MG Advanced,Hatfan,On Hold,2016-11-04,,
HAXMC4IX,James Ascencio,MG Advanced,,Prospecting,,,
NL3JZH1Z,Elease Gluck,GTX Pro,,Prospecting,,,
"""

CN_CUSTOMERS = """\
客户名称,所属行业,客户规模,联系人,联系电话,沟通方式,最近沟通时间,预算范围,客户等级,跟进人员,客户反馈
星辰科技有限公司,信息技术-软件开发,员工100-500人,张伟,13912345678,微信,2024-03-15,30-50万,重点,李娜,积极，要求提供案例
（北京）云帆数据有限公司,制造业-机械设备,50人以下,王芳,+86 138-0013-8000,钉钉,2024/3/18,10万以内,潜在,李娜,考虑中
恒达机械股份有限公司,制造业/汽车零部件,大型企业,刘洋,010-12345678,电话,2024年3月20日,面议,普通,赵磊,价格偏高
蓝海贸易有限公司,批发零售,中型,陈静,13700137000/微信同号,抖音私信,2024-04-01,待定,VIP客户,赵磊,
启明教育科技有限公司,教育,员工约两百人,杨帆,13600136000,抖音私信,24/4/2,约30万,重点,李娜,没兴趣
青松医疗器械有限公司,医疗,500人以上,黄丽,0755-88886666,面谈,2024-04-08,50万以上,潜在,赵磊,积极
华创电子有限公司,制造业—电子,员工50-99人,周敏,微信同号,电话 13500135000,2024-04-09,20万,普通,李娜,认可方案
"""

TMALL_ORDERS = """\
订单编号,总金额,买家实际支付金额,收货地址,订单创建时间,订单付款时间,退款金额
3365241987654321,128.00,118.00,浙江省 杭州市 西湖区 文三路 100号,2024-06-01 10:15:22,2024-06-01 10:16:01,0.00
3365241987654322,59.90,59.90,广东省 深圳市 南山区 科技园 1栋,2024-06-01 11:02:45,2024-06-01 11:03:10,0.00
3365241987654323,299.00,279.00,北京 北京市 朝阳区 建国路 8号,2024-06-02 09:30:00,,0.00
3365241987654324,1299.00,1199.00,上海 上海市 浦东新区 世纪大道 88号,2024-06-02 20:45:13,2024-06-02 20:46:00,1199.00
3365241987654325,35.50,35.50,江苏省 南京市 鼓楼区 中山路 20号,2024-06-03 08:01:59,2024-06-03 08:02:30,0.00
"""


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _frame(text):
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])


def field_for(ins, header):
    """The field a header is mapped to, or else the one suggested for it (None for neither)."""
    row = ins.headers.set_index("header").loc[header]
    name = row["field"] if row["status"] in ("mapped", "column_map") else row["suggestion"]
    return None if pd.isna(name) else name


def listed(ins, field):
    """{value: rows} that inspect_export lists for one field."""
    sel = ins.values[ins.values["field"] == field]
    return dict(zip(sel["value"], sel["rows"].astype(int), strict=True))


def cleaner_problems(result):
    """{column: {raw value: rows}} of cells clean_table could not read or found outside the lists."""
    issues = result.issues[result.issues["reason"].isin(["unparseable", "unlisted_value"])]
    out = {}
    for (column, value), group in issues.groupby(["column", "raw_value"]):
        out.setdefault(column, {})[str(value).strip()] = len(group)
    return out


def test_uci_retail_dates_are_ambiguous_and_reported_not_guessed(tmp_path):
    path = _write(tmp_path, "Online Retail.csv", UCI_RETAIL)
    ins = inspect_export(path, top=20)

    assert isinstance(ins, Inspection)
    assert ins.table == "orders"
    expected = {
        "InvoiceNo": "order_id",
        "Description": "product",
        "Quantity": "quantity",
        "InvoiceDate": "order_date",
        "UnitPrice": "unit_price",
        "CustomerID": "customer_id",
    }
    assert {h: field_for(ins, h) for h in expected} == expected
    assert field_for(ins, "StockCode") is None
    assert field_for(ins, "Country") is None  # "Country" only looks like "Account"

    # Every InvoiceDate is month/day/year: none is read, each is listed with its count.
    raw = _frame(UCI_RETAIL)["InvoiceDate"]
    ambiguous = raw[raw.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}")]
    assert listed(ins, "order_date") == ambiguous.value_counts().to_dict()
    headers = ins.headers.set_index("header")
    assert headers.loc["InvoiceDate", "problems"] == len(ambiguous) == 10
    assert headers.loc["InvoiceDate", "filled"] == 10
    assert headers.loc["Description", "filled"] == raw.size - 1
    assert pd.isna(headers.loc["Description", "problems"])  # free text: nothing judged

    zh, en = ins.to_text(), ins.to_text(lang="en")
    assert "12/1/2010 8:26 2" in zh and "12/1/2010 8:26 2" in en
    assert "日月顺序不明" in zh and "不猜" in zh
    assert "day/month order is ambiguous; the kit does not guess" in en
    assert "12/23/2010 13:15 suggests month first" in en  # a day above 12 shows the order
    assert "无法识别 (unreadable) 10 行 (rows)" in zh


def test_crm_pipeline_suggestions_become_a_column_map_that_reads(tmp_path):
    path = _write(tmp_path, "sales_pipeline.csv", CRM_PIPELINE)

    inferred = inspect_export(path)
    if inferred.table != "stages":  # the headers fit customers too; the inspection says so
        assert any("table='stages'" in note["en"] for note in inferred.notes)

    ins = inspect_export(path, table="stages")
    assert ins.table_status == "given"
    assert field_for(ins, "opportunity_id") == "opportunity_id"
    assert field_for(ins, "deal_stage") == "stage"
    assert field_for(ins, "sales_agent") == "owner"
    assert field_for(ins, "account") == "customer_name"
    assert field_for(ins, "close_value") == "amount"
    assert field_for(ins, "product") is None
    # one date column is suggested for the stage date, the other is left out (not two at once)
    dates = [field_for(ins, "engage_date"), field_for(ins, "close_date")]
    assert dates.count("entered_at") == 1
    assert "entered_at" in ins.column_map.values()
    assert list(ins.column_map.values()).count("entered_at") == 1

    # the suggested column_map makes the export a stage table that read_table and clean_table take
    again = inspect_export(path, column_map=ins.column_map)
    assert again.table == "stages" and again.missing == []
    frame = read_table(path, column_map=ins.column_map)
    assert frame.attrs["table"] == "stages"
    expected = cleaner_problems(clean_table(frame)).get("stage", {})
    assert listed(again, "stage") == expected
    raw = _frame(CRM_PIPELINE)["deal_stage"]
    assert expected["On Hold"] == int((raw == "On Hold").sum()) == 2
    assert "Lost" not in expected  # Lost is how a deal ended, not a stage nobody knows

    # a map per table, as notebook 01 takes for several files, applies to its table only
    nested = inspect_export(
        path, table="stages", column_map={"stages": {"close_date": "entered_at"}}
    )
    assert nested.headers.set_index("header").loc["close_date", "status"] == "column_map"
    assert nested.column_map == {"close_date": "entered_at"}

    text = again.to_text(lang="en")
    assert "stage ← deal_stage: not in the list 2 rows: On Hold 2" in text


def test_chinese_customer_export_values_and_masking(tmp_path):
    path = _write(tmp_path, "客户信息表_导出.csv", CN_CUSTOMERS, encoding="gb18030")
    ins = inspect_export(path)

    assert ins.table == "customers" and ins.table_status == "inferred"
    assert ins.missing == []
    mapped = {
        "客户名称": "customer_name",
        "客户规模": "company_size",
        "联系人": "contact_name",
        "联系电话": "contact_phone",
        "沟通方式": "contact_method",
        "最近沟通时间": "last_contact_date",
        "预算范围": "budget",
        "客户等级": "grade",
    }
    headers = ins.headers.set_index("header")
    assert {h: headers.loc[h, "field"] for h in mapped} == mapped
    assert (headers.loc[list(mapped), "status"] == "mapped").all()
    assert headers.loc["跟进人员", "status"] == "unmapped"
    assert headers.loc["跟进人员", "suggestion"] == "owner"
    assert ins.column_map == {"跟进人员": "owner"}

    # The same cells clean_table cannot read or finds outside its lists, with the same counts.
    result = clean_table(read_table(path))
    expected = cleaner_problems(result)
    for column, values in expected.items():
        if column == "contact_phone":
            assert sum(listed(ins, column).values()) == sum(values.values())
        else:  # shown masked: a phone typed into another column too
            assert listed(ins, column) == {mask_text(k): n for k, n in values.items()}, column
    raw = _frame(CN_CUSTOMERS)
    assert listed(ins, "contact_method")["抖音私信"] == int((raw["沟通方式"] == "抖音私信").sum())
    assert headers.loc["沟通方式", "problems"] == sum(expected["contact_method"].values())
    assert headers.loc["联系电话", "filled"] == raw["联系电话"].notna().sum()

    # choices: the template's list plus what the export holds; fed back, only the phone is left
    assert ins.choices["contact_method"][: len(CHOICES["contact_method"])] == tuple(
        CHOICES["contact_method"]
    )
    assert "抖音私信" in ins.choices["contact_method"]
    assert not any("135" in v for v in ins.choices["contact_method"])  # a phone is no choice
    left = {"电话 135****5000": 1}
    assert listed(inspect_export(path, choices=ins.choices), "contact_method") == left
    after = cleaner_problems(clean_table(read_table(path), choices=ins.choices))
    assert after["contact_method"] == {"电话 13500135000": 1}

    # no phone number or contact name prints unmasked, in any output
    outputs = [ins.to_text(), ins.to_text(lang="en"), json.dumps(ins.to_dict(), ensure_ascii=False)]
    names = raw["联系人"].tolist() + raw["跟进人员"].tolist()
    for text in outputs:
        assert find_unmasked(text, names=names) == []
        assert "13700137000" not in text and "13500135000" not in text
    assert "137****7000; ****" in outputs[0]  # the cell holding a phone and 微信同号
    assert "电话 135****5000 1" in outputs[0]  # a phone typed into 沟通方式


def test_tmall_export_without_a_buyer_column(tmp_path):
    path = _write(tmp_path, "ExportOrderList.csv", TMALL_ORDERS, encoding="gb18030")
    ins = inspect_export(path)

    assert ins.table == "orders"
    assert field_for(ins, "订单编号") == "order_id"
    assert field_for(ins, "总金额") == "amount"
    assert field_for(ins, "订单创建时间") == "order_date"
    assert field_for(ins, "退款金额") is None  # a refund is not the amount, nor the paid amount
    assert field_for(ins, "订单付款时间") is None  # a date, but the one date field is taken
    assert field_for(ins, "收货地址") is None
    fields = {field_for(ins, h) for h in ins.headers["header"]}
    assert not fields & {"customer_id", "customer_name"}
    assert any("no customer column" in note["en"] for note in ins.notes)
    assert "没有客户列" in ins.to_text()
    assert ins.values.empty  # every amount and date reads

    headers = ins.headers.set_index("header")
    raw = _frame(TMALL_ORDERS)
    assert headers.loc["订单付款时间", "filled"] == raw["订单付款时间"].notna().sum() == 4


def test_a_dataframe_is_inspected_without_being_changed():
    raw = _frame(CRM_PIPELINE)
    before = raw.copy()
    ins = inspect_export(raw, table="stages", top=1)
    pd.testing.assert_frame_equal(raw, before)
    assert ins.source == "<DataFrame>"
    assert len(ins.values[ins.values["field"] == "stage"]) <= 1
    assert ins.to_dict()["table"] == "stages"
    json.dumps(ins.to_dict())  # plain JSON


def test_an_excel_sheet_is_chosen(tmp_path):
    path = tmp_path / "导出.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"说明": ["本表由系统导出"]}).to_excel(writer, sheet_name="封面", index=False)
        _frame(TMALL_ORDERS).to_excel(writer, sheet_name="订单", index=False)
    ins = inspect_export(path, sheet_name="订单")
    assert ins.table == "orders" and ins.rows == 5


def test_bad_parameters_name_what_was_passed(tmp_path):
    path = _write(tmp_path, "a.csv", UCI_RETAIL)
    with pytest.raises(ValueError, match="top must be a positive integer; got 0"):
        inspect_export(path, top=0)
    with pytest.raises(SchemaError, match="table must be one of"):
        inspect_export(path, table="invoices")
    with pytest.raises(SchemaError, match="unknown canonical names \\['revenue'\\]"):
        inspect_export(path, column_map={"UnitPrice": "revenue"})
    with pytest.raises(ReadError, match="file not found"):
        inspect_export(tmp_path / "missing.csv")


def test_cli_inspect_prints_text_and_json(tmp_path, capsys):
    path = _write(tmp_path, "客户信息表_导出.csv", CN_CUSTOMERS)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "contact_method ← 沟通方式: 不在列表 (not in the list) 3 行 (rows): 抖音私信 2, " in out
    assert find_unmasked(out) == []

    crm = _write(tmp_path, "sales_pipeline.csv", CRM_PIPELINE)
    args = ["inspect", str(crm), "--table", "stages", "--lang", "en", "--json", "--top", "3"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["table"] == "stages" and data["table_status"] == "given"
    assert "entered_at" in data["column_map"].values()

    assert main(["inspect", str(crm), "-m", "engage_date", "entered_at", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "engage_date     → entered_at (by column_map)" in out


def test_cli_inspect_exit_codes(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.csv")]) == 1
    assert "file not found" in capsys.readouterr().err

    path = _write(tmp_path, "ExportOrderList.csv", TMALL_ORDERS, encoding="gb18030")
    assert main(["inspect", str(path), "--encoding", "utf-8"]) == 1
    assert "cannot decode" in capsys.readouterr().err
    assert main(["inspect", str(path), "-m", "退款金额", "refund"]) == 1
    assert "unknown canonical names" in capsys.readouterr().err

    for bad in (["--table", "invoices"], ["--top", "0"], ["--lang", "fr"]):
        with pytest.raises(SystemExit) as exc:
            main(["inspect", str(path), *bad])
        assert exc.value.code == 2
