from django.urls import path

from techdocs import views

app_name = "techdocs"
urlpatterns = [
    path("", views.index, name="index"),
    path("handbook/<slug:slug>/", views.handbook_page, name="handbook"),
]
