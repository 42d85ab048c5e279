"""REST API for vendors, bank details, contracts, versions, rate lines and quotes. Thin: a
serializer validates, one service acts, DomainError becomes the JSON error."""

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin

from . import pricing, selectors, services
from .filters import (
    BankAccountApiFilter,
    BankChangeApiFilter,
    ContractApiFilter,
    ContractVersionApiFilter,
    RateLineApiFilter,
    SurchargeApiFilter,
)
from .models import Contract, ContractVersion, RateLine, Surcharge, Vendor, VendorBankAccount, VendorBankChangeRequest


class VendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = [
            "id",
            "code",
            "legal_name",
            "market",
            "vendor_type",
            "vat_number",
            "contact_name",
            "contact_email",
            "contact_phone",
            "payment_terms_days",
            "status",
            "bank_details_changed_at",
        ]
        read_only_fields = ["bank_details_changed_at"]
        validators = []  # the service checks the code is unused


class VendorBankAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = VendorBankAccount
        fields = [
            "id",
            "vendor",
            "account_holder",
            "iban",
            "bic",
            "account_number",
            "bank_code",
            "bank_name",
            "currency",
            "status",
            "created_at",
            "retired_at",
        ]


class BankChangeRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        validators = []  # the service checks the constraints with clear messages
        model = VendorBankChangeRequest
        fields = [
            "id",
            "vendor",
            "account_holder",
            "iban",
            "bic",
            "account_number",
            "bank_code",
            "bank_name",
            "currency",
            "reason",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "resulting_account",
        ]
        read_only_fields = ["status", "requested_at", "decided_at", "decision_note", "resulting_account"]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class TerminateSerializer(serializers.Serializer):
    end_date = serializers.DateField()
    reason = serializers.CharField(max_length=255)


class ContractSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    approved_by = serializers.CharField(source="approved_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        validators = []  # the service checks the constraints with clear messages
        model = Contract
        fields = [
            "id",
            "reference",
            "vendor",
            "market",
            "service_level",
            "currency",
            "valid_from",
            "valid_to",
            "payment_terms_days",
            "volumetric_divisor",
            "status",
            "author",
            "approved_by",
            "approved_at",
            "terminated_at",
            "termination_reason",
            "notes",
        ]
        read_only_fields = ["market", "status", "approved_at", "terminated_at", "termination_reason"]
        extra_kwargs = {
            "reference": {"required": False, "allow_blank": True},
            "currency": {"required": False},
            "payment_terms_days": {"required": False},
        }


class ContractVersionSerializer(serializers.ModelSerializer):
    is_retroactive = serializers.BooleanField(read_only=True)

    class Meta:
        validators = []  # the service checks the constraints with clear messages
        model = ContractVersion
        fields = [
            "id",
            "contract",
            "number",
            "effective_from",
            "status",
            "notes",
            "created_by",
            "approved_by",
            "approved_at",
            "activated_at",
            "is_retroactive",
        ]
        read_only_fields = ["number", "status", "created_by", "approved_by", "approved_at", "activated_at"]


class RateLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = RateLine
        fields = [
            "id",
            "version",
            "service_level",
            "origin_zone",
            "destination_zone",
            "weight_from_kg",
            "weight_to_kg",
            "base_price",
            "price_per_additional_kg",
            "additional_step_kg",
            "minimum_charge",
        ]


class SurchargeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Surcharge
        fields = [
            "id",
            "version",
            "kind",
            "percent",
            "flat_amount",
            "valid_from",
            "valid_to",
            "zone",
            "dimension_threshold_cm",
            "minimum_amount",
        ]


class RateCardImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the rate-card workbook (.xlsx), laid out as the description says")


# What the rate-card doors document: the rule that prices a shipment, as vendors.pricing (rules 1-8)
# and the billing run's SQL apply it, and the workbook layout vendors.resources reads.
RATING_RULE = """
**How a shipment's vendor cost is rated** (`vendors.pricing`; the billing run applies the same rule in SQL):

1. *Contract and version.* The vendor's contract for the market and service level that is active, expired or
   terminated and valid on the ship date (valid_from ≤ ship date ≤ valid_to, empty valid_to = open-ended); of it,
   the active version with the latest `effective_from` on or before the ship date.
2. *Chargeable weight.* volumetric kg = length × width × height (cm) ÷ the contract's `volumetric_divisor`,
   rounded **up** to 0.001 kg (0 when a dimension is missing); chargeable kg = max(actual kg, volumetric kg).
3. *Rate line.* The version's line of the lane (service level, origin zone, destination zone) with
   `weight_from_kg` < chargeable kg ≤ `weight_to_kg` (from exclusive, to inclusive).
4. *Freight.* steps = ⌈(chargeable kg − `weight_from_kg`) ÷ `additional_step_kg`⌉ (a started step counts in full);
   freight = round(max(`base_price` + steps × `price_per_additional_kg`, `minimum_charge`)).
5. *Surcharges* of the version valid on the ship date (`valid_from`/`valid_to` inclusive, empty = open), one line
   each in the order fuel, remote_area, oversize, cod, peak, returns: amount = round(max(`percent` % of its base,
   or `flat_amount`, `minimum_amount`)). When each applies and what its percent is of:
   fuel — always — of freight; remote_area — destination zone = its `zone` — of freight; oversize — the longest
   side > `dimension_threshold_cm` — of freight; cod — COD value > 0 — of the COD value; peak — always within its
   period (the peak season) — of freight; returns — the shipment was returned — of freight. "Freight" is the
   rounded freight line of step 4.
6. *VAT* = round((freight + surcharges) × the market's standard VAT rate ÷ 100); total = net + VAT. The billing
   run accrues the net cost; the vendor invoices VAT on top.

"round" is half-up to the currency's minor units (GBP and EUR 2 decimals, IDR and VND none), once per line; every
step before it keeps full decimal precision. The seller's fee is rated from the same shipment data by the same
weight, bracket and step rules under the approved seller fee schedule (see `/api/seller-fee-schedules/`).
"""

RATE_CARD_LAYOUT = """
**Rate lines** — every column required; brackets of one lane must not overlap:
`service_level` (the contract's), `origin_zone`, `destination_zone`, `weight_from_kg` (exclusive, ≥ 0),
`weight_to_kg` (inclusive, > from), `base_price`, `price_per_additional_kg` (per step above `weight_from_kg`),
`additional_step_kg` (> 0), `minimum_charge`. Amounts in the contract's currency, weights in kg (3 decimals).

**Surcharges** — `kind`, and exactly one of `percent` or `flat_amount`; the rest optional:
`kind` (fuel, remote_area, oversize, cod, peak, returns), `percent`, `flat_amount`, `valid_from`, `valid_to`
(YYYY-MM-DD, inclusive, empty = open; peak needs both), `zone` (remote_area: the destination zone it applies to),
`dimension_threshold_cm` (oversize: applies when the longest side exceeds it), `minimum_amount` (empty = 0).
"""


class RateLineInputSerializer(serializers.Serializer):
    service_level = serializers.CharField(max_length=30, help_text="the contract's service level")
    origin_zone = serializers.CharField(max_length=30)
    destination_zone = serializers.CharField(max_length=30)
    weight_from_kg = serializers.DecimalField(max_digits=10, decimal_places=3, help_text="exclusive")
    weight_to_kg = serializers.DecimalField(max_digits=10, decimal_places=3, help_text="inclusive")
    base_price = serializers.DecimalField(max_digits=20, decimal_places=4)
    price_per_additional_kg = serializers.DecimalField(max_digits=20, decimal_places=4)
    additional_step_kg = serializers.DecimalField(max_digits=10, decimal_places=3)
    minimum_charge = serializers.DecimalField(max_digits=20, decimal_places=4)


class SurchargeInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Surcharge.Kind.choices)
    percent = serializers.DecimalField(max_digits=7, decimal_places=4, required=False, allow_null=True)
    flat_amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, allow_null=True)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)
    zone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    dimension_threshold_cm = serializers.DecimalField(max_digits=7, decimal_places=1, required=False, allow_null=True)
    minimum_amount = serializers.DecimalField(max_digits=20, decimal_places=4, required=False, allow_null=True)


class RateCardJsonSerializer(serializers.Serializer):
    rate_lines = RateLineInputSerializer(many=True)
    surcharges = SurchargeInputSerializer(many=True, required=False, help_text="omitted = none")


RATE_CARD_COUNTS = inline_serializer(
    "RateCardCounts", fields={"rate_lines": serializers.IntegerField(), "surcharges": serializers.IntegerField()}
)
RATE_CARD_JSON_EXAMPLE = OpenApiExample(
    "Two brackets and a fuel surcharge",
    request_only=True,
    value={
        "rate_lines": [
            {
                "service_level": "standard",
                "origin_zone": "GB-LON",
                "destination_zone": "GB-LON",
                "weight_from_kg": "0",
                "weight_to_kg": "2",
                "base_price": "3.95",
                "price_per_additional_kg": "0",
                "additional_step_kg": "1",
                "minimum_charge": "0",
            },
            {
                "service_level": "standard",
                "origin_zone": "GB-LON",
                "destination_zone": "GB-LON",
                "weight_from_kg": "2",
                "weight_to_kg": "30",
                "base_price": "4.20",
                "price_per_additional_kg": "0.55",
                "additional_step_kg": "0.5",
                "minimum_charge": "4.50",
            },
        ],
        "surcharges": [{"kind": "fuel", "percent": "8.5"}],
    },
)


class QuoteRequestSerializer(serializers.Serializer):
    vendor = serializers.PrimaryKeyRelatedField(queryset=Vendor.objects.all())
    service_level = serializers.CharField(max_length=30)
    origin_zone = serializers.CharField(max_length=30)
    destination_zone = serializers.CharField(max_length=30)
    ship_date = serializers.DateField()
    weight_kg = serializers.DecimalField(max_digits=10, decimal_places=3, min_value=0)
    length_cm = serializers.DecimalField(max_digits=7, decimal_places=1, min_value=0, required=False, allow_null=True)
    width_cm = serializers.DecimalField(max_digits=7, decimal_places=1, min_value=0, required=False, allow_null=True)
    height_cm = serializers.DecimalField(max_digits=7, decimal_places=1, min_value=0, required=False, allow_null=True)
    cod_value = serializers.DecimalField(max_digits=20, decimal_places=4, min_value=0, required=False, default=0)
    is_returned = serializers.BooleanField(required=False, default=False)


class QuoteLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField()
    contract_version_id = serializers.IntegerField()
    rate_line_id = serializers.IntegerField()
    surcharge_id = serializers.IntegerField(allow_null=True)
    basis = serializers.CharField()


class QuoteSerializer(serializers.Serializer):
    currency = serializers.CharField()
    contract_id = serializers.IntegerField()
    contract_reference = serializers.CharField()
    contract_version_id = serializers.IntegerField()
    contract_version_number = serializers.IntegerField()
    rate_line_id = serializers.IntegerField()
    volumetric_weight_kg = serializers.CharField()
    chargeable_weight_kg = serializers.CharField()
    vat_rate = serializers.CharField()
    lines = QuoteLineSerializer(many=True)
    net = serializers.CharField()
    vat = serializers.CharField()
    total = serializers.CharField()


# --- Viewsets ----------------------------------------------------------------------------------------


class VendorViewSet(IdempotentMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Vendor master data; the tax number is validated for the vendor's market. Bank details
    change only through /vendor-bank-changes/."""

    serializer_class = VendorSerializer
    filterset_fields = ["market", "status", "vendor_type", "code"]
    required_permissions = {
        "read": "vendors.view_vendor",
        "create": "vendors.add_vendor",
        "update": "vendors.change_vendor",
        "partial_update": "vendors.change_vendor",
    }
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.vendors_list()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("status", None)
        vendor = services.vendor_create(actor=request.user, **data)
        return Response(self.get_serializer(vendor).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        vendor = self.get_object()
        serializer = self.get_serializer(vendor, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k not in ("market", "code")}
        vendor = services.vendor_update(actor=request.user, vendor=vendor, **data)
        return Response(self.get_serializer(vendor).data)


class VendorBankAccountViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VendorBankAccountSerializer
    filterset_class = BankAccountApiFilter
    required_permissions = {"read": "vendors.view_vendorbankaccount"}

    def get_queryset(self):
        return selectors.vendor_bank_accounts()


class BankChangeRequestViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Bank detail changes: create (maker), approve or reject (checker: another user)."""

    serializer_class = BankChangeRequestSerializer
    filterset_class = BankChangeApiFilter
    required_permissions = {
        "read": "vendors.view_vendorbankchangerequest",
        "create": "vendors.add_vendorbankchangerequest",
        "approve": "vendors.approve_vendorbankchangerequest",
        "reject": "vendors.approve_vendorbankchangerequest",
    }

    def get_queryset(self):
        return selectors.bank_change_requests()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        change = services.vendor_bank_change_request(actor=request.user, **data)
        return Response(self.get_serializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=VendorBankAccountSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        account = services.vendor_bank_change_approve(actor=request.user, change_request=self.get_object())
        return Response(VendorBankAccountSerializer(account).data)

    @extend_schema(request=ReasonSerializer, responses=BankChangeRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change = services.vendor_bank_change_reject(
            actor=request.user, change_request=self.get_object(), note=body.validated_data["reason"]
        )
        return Response(self.get_serializer(change).data)


class ContractViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Contracts: create a draft (with version 1), submit, approve (four eyes), reject, terminate."""

    serializer_class = ContractSerializer
    filterset_class = ContractApiFilter
    required_permissions = {
        "read": "vendors.view_contract",
        "create": "vendors.add_contract",
        "submit": "vendors.change_contract",
        "approve": "vendors.approve_contract",
        "reject": "vendors.approve_contract",
        "terminate": "vendors.approve_contract",
    }

    def get_queryset(self):
        return selectors.contracts_list()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contract = services.contract_create(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(contract).data, status=status.HTTP_201_CREATED)

    def _done(self, contract):
        return Response(self.get_serializer(contract).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._done(services.contract_submit(actor=request.user, contract=self.get_object()))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._done(services.contract_approve(actor=request.user, contract=self.get_object()))

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._done(
            services.contract_reject(actor=request.user, contract=self.get_object(), **body.validated_data)
        )

    @extend_schema(request=TerminateSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        body = TerminateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._done(
            services.contract_terminate(actor=request.user, contract=self.get_object(), **body.validated_data)
        )


class ContractVersionViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Versions: create an amendment of an active contract, import its rate card, submit, approve, reject."""

    serializer_class = ContractVersionSerializer
    filterset_class = ContractVersionApiFilter
    required_permissions = {
        "read": "vendors.view_contract",
        "create": "vendors.change_contract",
        "rate_card": "vendors.change_contract",
        "rates": "vendors.change_contract",
        "submit": "vendors.change_contract",
        "approve": "vendors.approve_contract",
        "reject": "vendors.approve_contract",
    }

    def get_queryset(self):
        return selectors.contract_versions()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = services.contract_version_create(
            actor=request.user,
            contract=data["contract"],
            effective_from=data["effective_from"],
            notes=data.get("notes", ""),
        )
        return Response(self.get_serializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": RateCardImportSerializer},
        responses={200: RATE_CARD_COUNTS},
        summary="Replace a draft version's rate card with an Excel workbook",
        description="Upload the rate card as an .xlsx workbook (at most 5 MB, 50,000 rows, 32 columns) with two "
        'sheets, a header row first (column names as below, in any order): **"Rate lines"** (required) and '
        '**"Surcharges"** (optional). The staff page\'s export writes this layout, so an exported card imports back '
        'unchanged. Numbers may be numbers or text ("3.95"), dates real dates or YYYY-MM-DD. The import replaces '
        "the draft version's rate lines and surcharges, all or nothing: a bad row answers 400 with `error.errors` "
        '= [{"sheet", "row" (the Excel row number), "field", "message"}] (the first 100; `error_count` all).\n'
        + RATE_CARD_LAYOUT
        + RATING_RULE,
    )
    @action(detail=True, methods=["post"], url_path="rate-card", parser_classes=[MultiPartParser, FormParser])
    def rate_card(self, request, pk=None):
        body = RateCardImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        counts = services.rate_card_import(
            actor=request.user, version=self.get_object(), content=upload.read(), filename=upload.name
        )
        return Response(counts)

    @extend_schema(
        request=RateCardJsonSerializer,
        responses={200: RATE_CARD_COUNTS},
        examples=[RATE_CARD_JSON_EXAMPLE],
        summary="Replace a draft version's rate lines and surcharges as JSON",
        description="The JSON twin of `rate-card/`: the same rows (one object per row, keys = the workbook's "
        'columns) and the same validation, all or nothing. Send numbers as strings ("3.95"). A bad row answers '
        '400 with `error.errors` = [{"list" ("rate_lines" or "surcharges"), "row" (1-based position in that list), '
        '"field", "message"}].\n' + RATE_CARD_LAYOUT + RATING_RULE,
    )
    @action(detail=True, methods=["post"], url_path="rates", parser_classes=[JSONParser])
    def rates(self, request, pk=None):
        counts = services.rate_card_replace(actor=request.user, version=self.get_object(), body=request.data)
        return Response(counts)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return Response(
            self.get_serializer(services.contract_version_submit(actor=request.user, version=self.get_object())).data
        )

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return Response(
            self.get_serializer(services.contract_version_approve(actor=request.user, version=self.get_object())).data
        )

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser])
    def reject(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.contract_version_reject(actor=request.user, version=self.get_object(), **body.validated_data)
        return Response(self.get_serializer(version).data)


class RateLineViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RateLineSerializer
    filterset_class = RateLineApiFilter
    required_permissions = {"read": "vendors.view_contract"}

    def get_queryset(self):
        return selectors.rate_lines()


class SurchargeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SurchargeSerializer
    filterset_class = SurchargeApiFilter
    required_permissions = {"read": "vendors.view_contract"}

    def get_queryset(self):
        return selectors.surcharges()


class QuoteViewSet(viewsets.ViewSet):
    """POST a shipment's attributes; get the price breakdown line by line (nothing is stored)."""

    required_permissions = {"create": "vendors.view_contract"}

    @extend_schema(
        request=QuoteRequestSerializer,
        responses=QuoteSerializer,
        description="The price of one shipment, line by line, as a billing run would rate it.\n" + RATING_RULE,
    )
    def create(self, request):
        body = QuoteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        vendor = data.pop("vendor")
        quote = pricing.rate(pricing.ShipmentAttrs(market=vendor.market_id, vendor_id=vendor.pk, **data))
        return Response(quote.as_dict())


def register_routes(router) -> None:
    router.register("vendors", VendorViewSet, basename="vendor")
    router.register("vendor-bank-accounts", VendorBankAccountViewSet, basename="vendorbankaccount")
    router.register("vendor-bank-changes", BankChangeRequestViewSet, basename="vendorbankchange")
    router.register("contracts", ContractViewSet, basename="contract")
    router.register("contract-versions", ContractVersionViewSet, basename="contractversion")
    router.register("rate-lines", RateLineViewSet, basename="rateline")
    router.register("surcharges", SurchargeViewSet, basename="surcharge")
    router.register("quotes", QuoteViewSet, basename="quote")
