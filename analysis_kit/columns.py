"""Canonical column names and the one map from template headers to them.

Every table the kit reads has a :class:`TableSpec`: its fields, each with a canonical snake_case
name, the headers it goes by in the templates (Chinese first, then English variants), the kind of
value it holds (which decides how :mod:`analysis_kit.cleaning` parses it), whether it is required,
and the note a collection template shows in its 填写说明 sheet.

Headers are matched after :func:`normalize_header`: Unicode NFKC (full-width brackets and digits
become half-width, the ideographic space a plain space), all whitespace removed, ASCII lower-cased
and ``_``/``-``/``.`` dropped. So ``预算范围（万元）``, ``预算范围(万元)``, ``预算范围 `` and
``Budget Range`` all find ``budget``. A trailing unit in brackets (``(万元)``, ``(元)``, ``(%)``) is
tried both with and without, and its multiplier is reported by :func:`header_unit`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "CHOICES",
    "STAGES",
    "TABLES",
    "Field",
    "TableSpec",
    "header_unit",
    "infer_table",
    "map_headers",
    "normalize_header",
    "require_columns",
    "table_column_map",
    "template_header",
]

# Canonical names used across modules. Analyses take ``*_col=`` keywords defaulting to these.
CUSTOMER_ID = "customer_id"
CUSTOMER_NAME = "customer_name"
CONTACT_NAME = "contact_name"
CONTACT_PHONE = "contact_phone"
OWNER = "owner"
ORDER_ID = "order_id"
ORDER_DATE = "order_date"
AMOUNT = "amount"
STAGE = "stage"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"

#: The template's six stages, in order (当前阶段 ①–⑥).
STAGES: tuple[str, ...] = ("初次接洽", "需求确认", "方案提交", "商务谈判", "成交", "售后维护")

#: Closed lists from the templates: the values a clean table may hold. Overridable per call of
#: :func:`analysis_kit.cleaning.clean_table` (``choices=``).
CHOICES: dict[str, tuple[str, ...]] = {
    "grade": ("重点", "潜在", "普通"),
    "priority": ("高", "中", "低"),
    "value_grade": ("高", "中", "低"),
    "potential_rating": ("A", "B", "C"),
    "contact_method": ("电话", "面谈", "邮件", "线上会议", "微信", "钉钉", "QQ", "短信"),
    "sentiment": ("积极", "中性", "消极"),
    "company_size": ("大型", "中型", "小型", "微型"),
    "outcome": ("won", "lost", "open"),
    "stage": STAGES,
}


@dataclass(frozen=True)
class Field:
    """One column of a template table.

    Parameters
    ----------
    name : str
        Canonical snake_case name.
    headers : tuple of str
        Template headers, Chinese first; the first is what collection templates write.
    kind : str
        How the value is parsed: ``id``, ``text``, ``company``, ``person``, ``phone``, ``date``,
        ``amount``, ``number``, ``percent``, ``budget``, ``score``, ``choice``, ``stage``,
        ``feedback``, ``industry``, ``timeline``, ``bool``, ``year``, ``period``.
    required : bool
        Whether a file for this table must have the column.
    note : str
        The 填写说明 text for this field.
    example : str
        The example value a collection template shows.
    """

    name: str
    headers: tuple[str, ...]
    kind: str = "text"
    required: bool = False
    note: str = ""
    example: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A template table: its name, Chinese title and fields."""

    name: str
    title: str
    fields: tuple[Field, ...]
    #: Groups of alternatives of which at least one column must be present (e.g. an id or a name),
    #: and, in each row, at least one value: they are key fields like the required ones.
    any_of: tuple[tuple[str, ...], ...] = ()
    #: Columns that identify a row: identical lines sharing a value here are one line exported
    #: twice; identical lines of a table without them are kept and flagged.
    key: tuple[str, ...] = ()
    #: A required column a file may lack when all the columns it is derived from are present
    #: (``{"amount": ("quantity", "unit_price")}``).
    derivable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Canonical names of all fields, in template order."""
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """Canonical names of the required fields."""
        return tuple(f.name for f in self.fields if f.required)

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The fields the table exists for, whose blank or unreadable value quarantines a row.

        They are the required fields and every column of the ``any_of`` groups.
        """
        return tuple(dict.fromkeys([*self.required, *(c for g in self.any_of for c in g)]))

    def field(self, name: str) -> Field:
        """Return the field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _f(name, headers, kind="text", required=False, note="", example=""):
    return Field(name, tuple(headers), kind, required, note, example)


_CUSTOMER_ID = _f(
    CUSTOMER_ID,
    ["客户编号", "客户ID", "客户id", "客户代码", "Customer ID", "CustomerID", "client_id"],
    "id",
    note="唯一编号；留空时由客户名称生成稳定编号",
    example="C0001",
)
_CUSTOMER_NAME = _f(
    CUSTOMER_NAME,
    [
        "客户名称",
        "客户名",
        "公司名称",
        "企业名称",
        "客户",
        "Customer Name",
        "Company",
        "Customer",
        "Account",
        "Account Name",
    ],
    "company",
    note="企业全称，如 XX科技有限公司",
    example="科技有限公司",
)
_OWNER = _f(
    OWNER,
    [
        "销售负责人",
        "负责人",
        "销售人员",
        "销售",
        "业务员",
        "跟进人",
        "Owner",
        "Sales Rep",
        "Rep",
        "Sales Agent",
        "Opportunity Owner",
    ],
    "person",
    note="负责该客户的销售人员姓名",
    example="张三",
)
_LEAD_SOURCE = _f(
    "lead_source",
    ["线索来源", "客户来源", "来源渠道", "渠道", "Lead Source", "Source", "Channel"],
    note="如 展会、线上推广、转介绍、电话营销",
    example="展会",
)
_REGION = _f(
    "region",
    ["注册地/区域", "注册地", "区域", "地区", "所在地区", "Region", "Area"],
    note="省市或销售大区",
    example="华东-上海",
)
_INDUSTRY = _f(
    "industry",
    ["所属行业", "行业", "Industry"],
    "industry",
    note="一级行业-二级行业，如 制造业-机械设备",
    example="信息技术-软件开发",
)
_CONTACT_METHOD = _f(
    "contact_method",
    ["沟通方式", "跟进方式", "联系方式", "Contact Method", "Method", "Channel Type"],
    "choice",
    note="电话/面谈/邮件/线上会议",
    example="线上会议",
)
_FEEDBACK = _f(
    "feedback",
    ["客户反馈", "反馈", "Feedback"],
    "feedback",
    note="客户态度或原话；可直接填 积极/中性/消极",
    example="积极，认可方案，关注实施周期",
)
_NEXT_STEP = _f(
    "next_step",
    ["下次跟进计划", "下一步计划", "下次跟进", "Next Step", "Next Plan"],
    note="下一步动作与时间",
    example="3月22日前提交详细方案",
)
_SUMMARY = _f(
    "contact_summary",
    ["沟通内容摘要", "沟通内容", "跟进内容", "跟进记录", "Contact Summary", "Summary", "Content"],
    note="本次沟通要点",
    example="介绍产品功能，客户关注数据安全",
)

CUSTOMERS = TableSpec(
    name="customers",
    title="客户信息表",
    key=(CUSTOMER_ID, CUSTOMER_NAME),
    any_of=((CUSTOMER_ID, CUSTOMER_NAME),),
    fields=(
        _CUSTOMER_ID,
        _CUSTOMER_NAME,
        _INDUSTRY,
        _f(
            "company_size",
            ["客户规模", "企业规模", "公司规模", "Company Size", "Size"],
            "size",
            note="大型/中型/小型/微型，或员工与营收范围，如 员工100-500人，年营收5000万-1亿",
            example="中型",
        ),
        _f(
            "employees",
            ["员工人数", "人数", "员工数", "Employees", "Headcount"],
            "number",
            note="整数，如 200",
            example="200",
        ),
        _f(
            "annual_revenue",
            ["年营收", "年营业额", "年收入", "Annual Revenue", "Revenue"],
            "amount",
            note="元，可写 5000万、1.2亿",
            example="5000万",
        ),
        _f(
            "founded",
            ["成立时间", "成立年份", "成立日期", "Founded", "Year Founded"],
            "year",
            note="年份，如 2015 或 2015年",
            example="2015",
        ),
        _REGION,
        _f(
            CONTACT_NAME,
            ["联系人", "联系人姓名", "姓名", "Contact", "Contact Name"],
            "person",
            note="一位客户可有多位联系人，每人一行",
            example="李四",
        ),
        _f(
            "contact_title",
            ["职务", "职位", "联系人职务", "Title", "Job Title"],
            note="如 技术总监",
            example="技术总监",
        ),
        _f(
            CONTACT_PHONE,
            ["联系电话", "电话", "手机", "手机号", "联系方式电话", "Phone", "Mobile", "Tel"],
            "phone",
            note="手机11位或固话带区号，如 13800138000、010-12345678",
            example="13800138000",
        ),
        _f(
            "contact_role",
            ["主要负责领域", "负责领域", "角色", "Role", "Responsibility"],
            note="如 技术选型、采购审批",
            example="技术选型",
        ),
        _f(
            "need_type",
            ["需求类型", "需求类别", "Need Type"],
            note="如 数据分析系统、CRM系统",
            example="数据分析系统",
        ),
        _f(
            "need_description",
            ["需求描述", "需求详情", "Need Description", "Requirements"],
            note="客户要解决的问题",
            example="需要统一的数据分析平台",
        ),
        _f(
            "pain_points",
            ["痛点描述", "痛点", "Pain Points"],
            note="当前的主要困难",
            example="数据分散，报表靠手工",
        ),
        _f(
            "need_tags",
            ["需求标签", "Need Tags"],
            note="多个标签用、或逗号分隔",
            example="降本增效、数据安全",
        ),
        _f(
            "budget",
            ["预算范围", "预算", "预算金额", "Budget", "Budget Range"],
            "budget",
            note="30-50万、10万以内、50万以上、面议",
            example="30-50万",
        ),
        _f(
            "purchase_timeline",
            ["采购时间节点", "采购时间", "预计采购时间", "Purchase Timeline"],
            "timeline",
            note="如 2024年Q3、2024年6月、待定",
            example="2024年Q3",
        ),
        _f(
            "decision_process",
            ["决策流程", "决策链", "Decision Process"],
            note="如 技术评估→采购审批→总经理签字",
            example="技术部评估→采购部审批→总经理签字",
        ),
        _f(
            "existing_solution",
            ["现有解决方案", "现有方案", "Existing Solution"],
            note="客户目前在用的产品或方式",
            example="Excel手工报表",
        ),
        _f(
            "last_contact_date",
            ["最近沟通时间", "最近联系时间", "最后沟通时间", "Last Contact Date", "Last Contact"],
            "date",
            note="日期，如 2024-03-15",
            example="2024-03-15",
        ),
        _CONTACT_METHOD,
        _SUMMARY,
        _FEEDBACK,
        _f(
            STAGE,
            ["当前阶段", "阶段", "销售阶段", "Stage", "Current Stage"],
            "stage",
            note="①初次接洽 ②需求确认 ③方案提交 ④商务谈判 ⑤成交 ⑥售后维护",
            example="②需求确认",
        ),
        _NEXT_STEP,
        _f(
            "grade",
            ["客户等级", "等级", "客户类型", "Grade", "Customer Grade", "Tier"],
            "choice",
            note="重点/潜在/普通",
            example="重点",
        ),
        _f(
            "priority",
            ["跟进优先级", "优先级", "Priority"],
            "choice",
            note="高（1周内跟进）/中（2周内）/低（1个月内）",
            example="高",
        ),
        _f(
            "value_grade",
            ["价值等级", "客户价值", "Value Grade", "Value"],
            "choice",
            note="高/中/低",
            example="高",
        ),
        _f(
            "potential_rating",
            ["潜力评级", "潜力等级", "Potential Rating", "Potential"],
            "choice",
            note="A/B/C",
            example="A",
        ),
        _f("tags", ["标签", "客户标签", "Tags"], note="多个标签用、分隔", example="高价值、决策快"),
        _f(
            "match_score",
            ["需求匹配度", "匹配度", "Match Score"],
            "score",
            note="1-5分",
            example="4分",
        ),
        _f(
            "cooperation_score",
            ["合作可能性", "合作意向", "Cooperation Score", "Likelihood"],
            "score",
            note="1-5分",
            example="3分",
        ),
        _f(
            "competitor_contact",
            ["是否接触竞品", "接触竞品", "Competitor Contact"],
            "bool",
            note="是/否",
            example="是",
        ),
        _f(
            "competitor",
            ["竞品名称", "竞争对手", "竞品", "Competitor"],
            note="多个用、分隔",
            example="某云BI",
        ),
        _f(
            "competitor_notes",
            ["对比优势/劣势", "对比优劣势", "竞品对比", "Competitor Notes"],
            note="我方相对竞品的优势与劣势",
            example="我方实施快，价格略高",
        ),
        _LEAD_SOURCE,
        _OWNER,
    ),
)

FOLLOWUPS = TableSpec(
    name="followups",
    title="跟进记录",
    any_of=((CUSTOMER_ID, CUSTOMER_NAME),),
    fields=(
        _CUSTOMER_ID,
        _CUSTOMER_NAME,
        _f(
            "followup_date",
            ["跟进日期", "跟进时间", "沟通日期", "沟通时间", "Followup Date", "Date"],
            "date",
            required=True,
            note="日期，如 2024-03-15",
            example="2024-03-15",
        ),
        _CONTACT_METHOD,
        _SUMMARY,
        _FEEDBACK,
        _NEXT_STEP,
        _OWNER,
    ),
)

ORDERS = TableSpec(
    name="orders",
    title="成交明细",
    key=(ORDER_ID,),
    derivable={AMOUNT: ("quantity", "unit_price")},
    fields=(
        _f(
            ORDER_ID,
            ["订单编号", "订单号", "合同编号", "Order ID", "OrderID", "Invoice", "InvoiceNo"],
            "id",
            note="唯一订单号；退款行可与原单同号，另起一行金额为负",
            example="SO20240315001",
        ),
        _CUSTOMER_ID,
        _CUSTOMER_NAME,
        _f(
            ORDER_DATE,
            [
                "成交日期",
                "下单日期",
                "订单日期",
                "签约日期",
                "日期",
                "下单时间",
                "订单创建时间",
                "成交时间",
                "Order Date",
                "InvoiceDate",
            ],
            "date",
            required=True,
            note="日期，如 2024-03-15",
            example="2024-03-15",
        ),
        _f(
            "product",
            ["产品名称", "产品", "商品", "Product", "Description", "Item"],
            note="产品或服务名称",
            example="数据分析平台-标准版",
        ),
        _f("quantity", ["数量", "Quantity", "Qty"], "number", note="整数；退货为负", example="1"),
        _f(
            "unit_price",
            ["单价", "单价(元)", "Unit Price", "Price", "UnitPrice"],
            "amount",
            note="元",
            example="120000",
        ),
        _f(
            AMOUNT,
            [
                "成交金额",
                "金额",
                "销售额",
                "订单金额",
                "合同金额",
                "总金额",
                "订单总金额",
                "Amount",
                "Revenue",
                "Sales",
            ],
            "amount",
            required=True,
            note="元，可写 ¥1,234.00 或 12.8万；退款为负数",
            example="120000",
        ),
        _f("cost", ["成本", "Cost"], "amount", note="元", example="72000"),
        _f("gross_margin", ["毛利", "毛利额", "Gross Margin", "Margin"], "amount", note="元"),
        _OWNER,
        _f(
            "team",
            ["销售团队", "团队", "所属团队", "Team"],
            note="销售团队或大区",
            example="华东组",
        ),
        _REGION,
        _LEAD_SOURCE,
        _f(
            "paid_amount",
            ["回款金额", "已回款", "回款", "买家实际支付金额", "实付金额", "Paid Amount", "Paid"],
            "amount",
            note="元",
            example="60000",
        ),
    ),
)

STAGE_HISTORY = TableSpec(
    name="stages",
    title="商机阶段记录",
    key=("opportunity_id",),
    fields=(
        _f(
            "opportunity_id",
            ["商机编号", "商机ID", "机会编号", "Opportunity ID", "Deal ID"],
            "id",
            required=True,
            note="同一商机的各阶段用同一编号",
            example="OP0001",
        ),
        _CUSTOMER_ID,
        _CUSTOMER_NAME,
        _f(
            STAGE,
            ["阶段", "商机阶段", "当前阶段", "Stage", "Deal Stage", "Opportunity Stage"],
            "stage",
            required=True,
            note="①初次接洽 ②需求确认 ③方案提交 ④商务谈判 ⑤成交 ⑥售后维护",
            example="③方案提交",
        ),
        _f(
            "entered_at",
            ["进入日期", "进入阶段日期", "阶段日期", "日期", "Entered At", "Date"],
            "date",
            required=True,
            note="进入该阶段的日期",
            example="2024-03-15",
        ),
        _f(
            AMOUNT,
            ["预计金额", "商机金额", "金额", "Amount", "Deal Amount", "Close Value"],
            "amount",
            note="元",
            example="300000",
        ),
        _OWNER,
        _LEAD_SOURCE,
        _f(
            "outcome",
            ["结果", "商机结果", "状态", "Outcome", "Status"],
            "choice",
            note="赢单/输单/进行中",
            example="进行中",
        ),
        _f(
            "lost_reason",
            ["丢单原因", "输单原因", "Lost Reason"],
            note="输单时填写",
            example="价格高于竞品",
        ),
    ),
)

CHANNEL_COSTS = TableSpec(
    name="channel_costs",
    title="渠道投入",
    fields=(
        _f(
            "channel",
            ["渠道", "线索来源", "渠道名称", "Channel", "Lead Source"],
            required=True,
            note="与线索来源一致，如 展会",
            example="展会",
        ),
        _f(
            "period",
            ["期间", "月份", "周期", "Period", "Month"],
            "period",
            required=True,
            note="如 2024-03、2024Q1、2024",
            example="2024-03",
        ),
        _f(
            "cost",
            ["投入", "投入金额", "费用", "成本", "Cost", "Spend"],
            "amount",
            required=True,
            note="元",
            example="50000",
        ),
    ),
)

TARGETS = TableSpec(
    name="targets",
    title="销售目标",
    any_of=((OWNER, "team"),),
    fields=(
        _OWNER,
        _f("team", ["销售团队", "团队", "Team"], note="销售团队或大区", example="华东组"),
        _f(
            "period",
            ["期间", "月份", "周期", "Period", "Month"],
            "period",
            required=True,
            note="如 2024-03、2024Q1、2024",
            example="2024Q1",
        ),
        _f(
            "target",
            ["销售目标", "目标", "目标金额", "Target"],
            "amount",
            required=True,
            note="元",
            example="1000000",
        ),
    ),
)

MARKET = TableSpec(
    name="market",
    title="市场分析汇总表",
    fields=(
        _f(
            "industry",
            ["行业", "所属行业", "细分市场", "Industry", "Segment"],
            required=True,
            note="行业或细分市场",
            example="信息技术-软件开发",
        ),
        _f(
            "market_size",
            ["市场规模", "市场规模(亿元)", "Market Size"],
            "amount",
            note="亿元",
            example="120",
        ),
        _f(
            "growth_rate",
            ["增长率", "年增长率", "Growth Rate", "Growth"],
            "percent",
            note="如 12% 或 0.12",
            example="12%",
        ),
        _f("policy", ["政策", "政策环境", "Policy"], note="相关政策", example="数字化转型补贴"),
        _f(
            "tech_trends",
            ["技术趋势", "Technology Trends", "Tech Trends"],
            note="主要技术方向",
            example="AI辅助分析",
        ),
        _f(
            "competitor",
            ["竞争对手", "竞品名称", "竞品", "Competitor"],
            note="一行一个竞争对手",
            example="某云BI",
        ),
        _f(
            "market_share",
            ["市场份额", "市场占有率", "Market Share", "Share"],
            "percent",
            note="如 15%",
            example="15%",
        ),
        _f(
            "core_products",
            ["核心产品", "主要产品", "Core Products"],
            note="竞争对手的核心产品",
            example="自助BI",
        ),
        _f(
            "pricing",
            ["定价策略", "价格", "定价", "Pricing"],
            note="价格区间或策略",
            example="按用户数订阅",
        ),
        _f("strengths", ["优势", "Strengths"], note="竞争对手的优势", example="品牌知名度高"),
        _f("weaknesses", ["劣势", "Weaknesses"], note="竞争对手的劣势", example="定制化弱"),
        _f(
            "recent_moves",
            ["近期动态", "最新动态", "Recent Moves"],
            note="如 降价、新品发布",
            example="推出行业版",
        ),
        _f("opportunities", ["市场机会", "机会", "Opportunities"], note="我们可抓住的机会"),
        _f("risks", ["风险", "市场风险", "Risks"], note="需要警惕的风险"),
        _f("strategy", ["策略建议", "应对策略", "Strategy"], note="我们的应对策略"),
    ),
)

#: Every table the kit reads, by name.
TABLES: dict[str, TableSpec] = {
    t.name: t for t in (CUSTOMERS, FOLLOWUPS, ORDERS, STAGE_HISTORY, CHANNEL_COSTS, TARGETS, MARKET)
}

_UNIT_RE = re.compile(r"\((万元|元|亿元|千元|%|百分比|万|亿|rmb|cny|yuan|¥)\)$")
_UNIT_FACTORS = {
    "元": 1,
    "¥": 1,  # the kit's own English headers, "Amount (¥)"; NFKC turns ￥ into ¥
    "rmb": 1,
    "cny": 1,
    "yuan": 1,
    "千元": 1_000,
    "万": 10_000,
    "万元": 10_000,
    "亿": 100_000_000,
    "亿元": 100_000_000,
    "%": 0.01,
    "百分比": 0.01,
}
_ASCII_NOISE = re.compile(r"[\s_\-./]+")
_WS = re.compile(r"\s+")


def normalize_header(header: object) -> str:
    """Return the matching key of a column header.

    NFKC first (full-width to half-width, ideographic space to space), then all whitespace is
    removed, ASCII letters are lower-cased and ``_``, ``-``, ``.`` and ``/`` between ASCII words
    are dropped. Chinese characters are kept as they are.

    Examples
    --------
    >>> normalize_header("预算范围（万元） ")
    '预算范围(万元)'
    >>> normalize_header("Customer_ID")
    'customerid'
    """
    text = unicodedata.normalize("NFKC", str(header)).strip()
    if text.isascii():
        return _ASCII_NOISE.sub("", text).lower()
    return _WS.sub("", text).lower()


def header_unit(header: object) -> float | None:
    """Return the multiplier a header's unit in brackets implies, or None.

    Examples
    --------
    >>> header_unit("预算范围（万元）")
    10000
    >>> header_unit("金额") is None
    True
    """
    match = _UNIT_RE.search(normalize_header(header))
    return _UNIT_FACTORS[match.group(1)] if match else None


def _strip_unit(key: str) -> str:
    return _UNIT_RE.sub("", key)


def _lookup(table: str) -> dict[str, str]:
    spec = TABLES[table]
    mapping: dict[str, str] = {}
    for f in spec.fields:
        for key in (f.name, *f.headers):
            mapping.setdefault(normalize_header(key), f.name)
    return mapping


_LOOKUPS: dict[str, dict[str, str]] = {}


def _lookup_cached(table: str) -> dict[str, str]:
    if table not in _LOOKUPS:
        _LOOKUPS[table] = _lookup(table)
    return _LOOKUPS[table]


def _match(header: object, lookup: Mapping[str, str]) -> str | None:
    key = normalize_header(header)
    if key in lookup:
        return lookup[key]
    stripped = _strip_unit(key)
    if stripped != key and stripped in lookup:
        return lookup[stripped]
    return None


def map_headers(
    headers: Iterable[object],
    table: str,
    *,
    column_map: Mapping[str, str] | None = None,
) -> dict[object, str]:
    """Map a file's headers to canonical names for ``table``.

    Parameters
    ----------
    headers : iterable
        The headers as they appear in the file.
    table : str
        One of :data:`TABLES`.
    column_map : mapping, optional
        Explicit ``{header: canonical}`` entries that win over the template map, for a team's
        own export (matched after :func:`normalize_header` too), or one such map per table
        (see :func:`table_column_map`).

    Returns
    -------
    dict
        ``{original header: canonical name}`` for every header. Unknown headers map to themselves
        (stripped); when two headers land on the same canonical name the first wins and the later
        one keeps its own header.
    """
    _check_table(table)
    lookup = _lookup_cached(table)
    explicit = {normalize_header(k): v for k, v in table_column_map(column_map, table).items()}
    result: dict[object, str] = {}
    taken: set[str] = set()
    for header in headers:
        key = normalize_header(header)
        target = explicit.get(key) or _match(header, lookup)
        if target is None or target in taken:
            target = str(header).strip()
        taken.add(target)
        result[header] = target
    return result


def table_column_map(column_map: Mapping[str, object] | None, table: str | None) -> dict[str, str]:
    """Return the ``{header: canonical}`` entries of ``column_map`` that apply to ``table``.

    ``column_map`` is either one map for every table or holds one map per table under the
    table's name, beside entries for every table, so one file's ``Id`` can be ``order_id`` and
    another's ``opportunity_id``. With ``table=None`` only the entries for every table apply.

    Raises
    ------
    ValueError
        A per-table entry is not a mapping, or names no table of :data:`TABLES`.

    Examples
    --------
    >>> maps = {"Owner": "owner", "orders": {"Id": "order_id"}, "stages": {"Id": "opportunity_id"}}
    >>> table_column_map(maps, "stages")
    {'Owner': 'owner', 'Id': 'opportunity_id'}
    """
    flat: dict[str, str] = {}
    nested: dict[str, str] = {}
    for key, value in (column_map or {}).items():
        if isinstance(value, Mapping):
            if key not in TABLES:
                raise ValueError(
                    f"column_map: {key!r} holds a map but is not a table; tables are "
                    f"{sorted(TABLES)}"
                )
            if key == table:
                nested = {str(k): str(v) for k, v in value.items()}
        elif isinstance(value, str):
            flat[str(key)] = value
        else:
            raise ValueError(
                f"column_map: {key!r} must map to a canonical column name or, under a table's "
                f"name, to a map of headers; got {value!r}"
            )
    return {**flat, **nested}


def infer_table(headers: Iterable[object]) -> str | None:
    """Guess which table a file holds from its headers.

    Each table scores the number of headers that map to one of its fields; a table qualifies only
    when all its required columns are present. The best qualifying score wins; ties go to the table
    listed first in :data:`TABLES`. Returns None when no table qualifies.

    Examples
    --------
    >>> infer_table(["订单编号", "客户名称", "成交日期", "金额"])
    'orders'
    """
    headers = list(headers)
    best: tuple[float, str] | None = None
    for name, spec in TABLES.items():
        lookup = _lookup_cached(name)
        found = {m for h in headers if (m := _match(h, lookup)) is not None}
        if missing_columns(found, name):
            continue
        # Favour tables whose own fields explain the file: share of headers matched, then count.
        score = len(found) / max(len(headers), 1) + len(found) / len(spec.fields) / 10
        if best is None or score > best[0]:
            best = (score, name)
    return None if best is None else best[1]


def missing_columns(columns: Iterable[str], table: str) -> list[str]:
    """Return the required canonical columns (or alternatives joined by ``|``) not in ``columns``.

    A required column that can be derived (:attr:`TableSpec.derivable`: ``amount`` from
    ``quantity`` × ``unit_price``) is not missing when every column it is derived from is present.
    """
    spec = TABLES[table]
    present = set(columns)
    missing = [
        name
        for name in spec.required
        if name not in present
        and not (name in spec.derivable and present.issuperset(spec.derivable[name]))
    ]
    for group in spec.any_of:
        if not present.intersection(group):
            missing.append("|".join(group))
    return missing


def template_header(name: str, table: str | None = None) -> str:
    """Return the Chinese template header of canonical column ``name``.

    Examples
    --------
    >>> template_header("order_date", "orders")
    '成交日期'
    """
    specs = [TABLES[table]] if table else list(TABLES.values())
    for spec in specs:
        for f in spec.fields:
            if f.name == name:
                return f.headers[0]
    return name


def describe_columns(names: Iterable[str], table: str | None = None) -> str:
    """Format canonical names with their template headers: ``order_date (成交日期), amount (金额)``.

    Alternatives written ``a|b`` are shown as ``a (甲) 或/or b (乙)``.
    """
    parts = []
    for name in names:
        alts = [str(a) for a in str(name).split("|")]
        parts.append(" 或/or ".join(_with_header(a, table) for a in alts))
    return ", ".join(parts)


def _with_header(name: str, table: str | None) -> str:
    header = template_header(name, table)
    return name if header == name else f"{name} ({header})"


def require_columns(
    columns: Iterable[object], needed: Iterable[str], *, where: str, table: str | None = None
) -> None:
    """Raise one error listing every column of ``needed`` that ``columns`` lacks.

    The message names each by canonical name and template header:
    ``rfm_summary: 缺少列 missing columns: order_date (成交日期), amount (成交金额)``.

    Raises
    ------
    SchemaError
        When any column is missing.
    """
    from .errors import SchemaError

    present = set(columns)
    missing = [c for c in dict.fromkeys(needed) if c not in present]
    if missing:
        raise SchemaError(f"{where}: 缺少列 missing columns: {describe_columns(missing, table)}")


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"table must be one of {sorted(TABLES)}; got {table!r}")
