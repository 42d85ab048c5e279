"""Desk API: IT opens a ticket on a seller's behalf from another channel (idempotent with an
Idempotency-Key), lists, reads and replies. A seller user sees only its own seller's tickets;
internal notes reach only desk agents."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from settlement_ops.api import IdempotentMixin
from settlement_ops.errors import DomainError

from ..models import Seller, Ticket, TicketCategory, TicketMessage, TicketPriority
from ..selectors import seller_for_user
from . import selectors, services


def _is_agent(user) -> bool:
    return user.has_perm("sellers.work_desk_tier1")


class TicketMessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = TicketMessage
        fields = ["id", "kind", "author", "body", "created_at"]

    def get_author(self, message) -> str:
        return "seller" if message.kind == TicketMessage.Kind.SELLER else "team"


class TicketSerializer(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.code")
    market = serializers.CharField(source="market_id")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "seller",
            "market",
            "category",
            "priority",
            "subject",
            "reference_kind",
            "reference",
            "channel",
            "state",
            "tier",
            "created_at",
            "first_response_due_at",
            "resolution_due_at",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "resolution_reason",
            "csat_rating",
            "credit_note_number",
        ]


class TicketDetailSerializer(TicketSerializer):
    messages = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "messages"]

    @extend_schema_field(TicketMessageSerializer(many=True))
    def get_messages(self, ticket) -> list[dict]:
        user = self.context["request"].user
        return TicketMessageSerializer(selectors.thread(ticket, for_seller=not _is_agent(user)), many=True).data


class TicketCreateSerializer(serializers.Serializer):
    seller = serializers.CharField(
        max_length=30, required=False, help_text="Seller code; a seller user's own seller when omitted"
    )
    category = serializers.ChoiceField(choices=TicketCategory.choices)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, default=TicketPriority.NORMAL)
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=20000)
    reference_kind = serializers.ChoiceField(choices=Ticket.ReferenceKind.choices, required=False, default="")
    reference = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000)
    wait_on_seller = serializers.BooleanField(default=False, help_text="Agents only: pause the SLA clock")


class TicketViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Seller consultations. `create` records a question that arrived by another channel
    (call centre, e-mail gateway) on the seller's behalf; send an `Idempotency-Key` so a retried
    call opens one ticket. `reply` answers as the team (desk agents) or adds the seller's message
    (the seller's own users, or IT relaying it)."""

    required_permissions = {
        "list": "sellers.view_ticket",
        "retrieve": "sellers.view_ticket",
        "create": "sellers.add_ticket",
        "reply": "sellers.view_ticket",
    }
    filterset_fields = ["state", "category", "tier"]

    def get_serializer_class(self):
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer

    def get_queryset(self):
        user = self.request.user
        if seller_for_user(user) is not None:
            qs = selectors.tickets_for_seller_user(user)
        else:
            qs = Ticket.objects.select_related("seller", "market")
        seller = self.request.query_params.get("seller")
        if seller:
            qs = qs.filter(seller__code=seller)
        market = self.request.query_params.get("market")
        if market:
            qs = qs.filter(market_id=market.upper())
        return qs.select_related("seller").order_by("-created_at", "-id")

    @extend_schema(
        request=TicketCreateSerializer,
        responses={201: TicketDetailSerializer},
        examples=[
            OpenApiExample(
                "A charge question from the call centre",
                value={
                    "seller": "S-GB-001",
                    "category": "charge",
                    "subject": "Why was parcel GB123 charged twice?",
                    "body": "The seller called about the fee on GB123.",
                    "reference_kind": "tracking",
                    "reference": "GB123",
                },
                request_only=True,
            )
        ],
    )
    def create(self, request):
        data = TicketCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        seller = seller_for_user(request.user)
        if seller is None:
            seller = Seller.objects.select_related("market").filter(code=values.get("seller", "")).first()
            if seller is None:
                raise DomainError("No seller has this code.", field="seller", code="unknown_seller")
        ticket = services.ticket_open(
            seller=seller,
            actor=request.user,
            category=values["category"],
            priority=values["priority"],
            subject=values["subject"],
            body=values["body"],
            reference_kind=values["reference_kind"],
            reference=values["reference"],
            channel=Ticket.Channel.API,
        )
        body = TicketDetailSerializer(ticket, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReplySerializer, responses={201: TicketMessageSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        ticket = self.get_object()
        data = ReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if _is_agent(user):
            message = services.agent_reply(
                ticket=ticket,
                actor=user,
                body=data.validated_data["body"],
                wait_on_seller=data.validated_data["wait_on_seller"],
            )
        elif seller_for_user(user) is not None or user.has_perm("sellers.add_ticket"):
            message = services.seller_reply(ticket=ticket, actor=user, body=data.validated_data["body"])
        else:
            raise DomainError("You cannot write on this ticket.", code="forbidden", status=403)
        return Response(TicketMessageSerializer(message).data, status=status.HTTP_201_CREATED)


def register_routes(router) -> None:
    router.register("seller-tickets", TicketViewSet, basename="sellerticket")
