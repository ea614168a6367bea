from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from techdocs import handbook


@login_required
def index(request):
    return render(request, "techdocs/index.html", {"pages": handbook.handbook_pages()})


@login_required
def handbook_page(request, slug: str):
    found = handbook.handbook_page(slug)
    if found is None:
        raise Http404("No handbook page by that name.")
    page, html = found
    return render(request, "techdocs/page.html", {"page": page, "html": html, "pages": handbook.handbook_pages()})
