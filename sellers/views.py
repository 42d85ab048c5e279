from django.views.generic import DetailView, TemplateView
from django_filters.views import FilterView

from settlement_ops.permissions import PermissionRequiredPageMixin

from .filters import SellerFilter
from .models import Seller
from .permissions import SellerPortalMixin
from .selectors import seller_account_summary, sellers_list


class SellerListView(PermissionRequiredPageMixin, FilterView):
    template_name = "sellers/seller_list.html"
    permission_required = "sellers.view_seller"
    filterset_class = SellerFilter
    paginate_by = 50

    def get_queryset(self):
        return sellers_list()


class SellerDetailView(PermissionRequiredPageMixin, DetailView):
    template_name = "sellers/seller_detail.html"
    permission_required = "sellers.view_seller"
    queryset = Seller.objects.select_related("market")
    context_object_name = "seller"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["summary"] = seller_account_summary(self.object, today=self.object.market.local_date())
        return ctx


class PortalHomeView(SellerPortalMixin, TemplateView):
    template_name = "sellers/portal_home.html"

    def get_context_data(self, **kwargs):
        summary = seller_account_summary(self.seller, today=self.seller.market.local_date())
        return {**super().get_context_data(**kwargs), "seller": self.seller, "summary": summary}
