"""The console's words in Spanish, Portuguese and English (every page, every message).

The language is the user's choice (stored with the user), else the browser's Accept-Language,
else Spanish. `tests/console/test_i18n.py` checks that every key has the three languages and that
templates use no unknown key.
"""

from __future__ import annotations

LANGUAGES = ("es", "pt", "en")
DEFAULT = "es"

# key: (es, pt, en)
WORDS: dict[str, tuple[str, str, str]] = {
    "app": ("Consola de cumplimiento", "Console de conformidade", "Compliance console"),
    "queue": ("Alertas", "Alertas", "Alerts"),
    "quality": ("Calidad de reglas", "Qualidade das regras", "Rule quality"),
    "audit": ("Auditoría", "Auditoria", "Audit trail"),
    "users": ("Usuarios", "Usuários", "Users"),
    "logout": ("Salir", "Sair", "Log out"),
    "login": ("Entrar", "Entrar", "Log in"),
    "username": ("Usuario", "Usuário", "User name"),
    "password": ("Contraseña", "Senha", "Password"),
    "login_failed": ("Usuario o contraseña incorrectos.", "Usuário ou senha incorretos.", "Wrong user name or password."),
    "too_many": ("Demasiados intentos. Espere unos minutos.", "Tentativas demais. Aguarde alguns minutos.",
                 "Too many attempts. Wait a few minutes."),
    "session_ended": ("Su sesión terminó. Vuelva a entrar.", "Sua sessão terminou. Entre novamente.",
                      "Your session ended. Please log in again."),
    "language": ("Idioma", "Idioma", "Language"),
    # statuses
    "status": ("Estado", "Status", "Status"),
    "all": ("Todas", "Todas", "All"),
    "active": ("Pendientes", "Pendentes", "Pending"),
    "open": ("Abierta", "Aberta", "Open"),
    "assigned": ("Asignada", "Atribuída", "Assigned"),
    "escalated": ("Escalada", "Escalada", "Escalated"),
    "resolved": ("Violación confirmada", "Violação confirmada", "Violation confirmed"),
    "dismissed": ("Falso positivo", "Falso positivo", "False positive"),
    # severities
    "severity": ("Severidad", "Severidade", "Severity"),
    "critical": ("Crítica", "Crítica", "Critical"),
    "high": ("Alta", "Alta", "High"),
    "medium": ("Media", "Média", "Medium"),
    "low": ("Baja", "Baixa", "Low"),
    "info": ("Informativa", "Informativa", "Info"),
    # queue
    "rule": ("Regla", "Regra", "Rule"),
    "pack": ("Paquete", "Pacote", "Pack"),
    "team": ("Equipo", "Equipe", "Team"),
    "employee": ("Empleado", "Funcionário", "Employee"),
    "number": ("Número de empresa", "Número da empresa", "Business number"),
    "customer": ("Cliente", "Cliente", "Customer"),
    "assignee": ("Responsable", "Responsável", "Assignee"),
    "since": ("Desde", "Desde", "From"),
    "until": ("Hasta", "Até", "To"),
    "search": ("Buscar texto", "Buscar texto", "Search text"),
    "filter": ("Filtrar", "Filtrar", "Filter"),
    "clear": ("Limpiar", "Limpar", "Clear"),
    "sort": ("Orden", "Ordem", "Sort"),
    "newest": ("Más recientes", "Mais recentes", "Newest"),
    "oldest": ("Más antiguas", "Mais antigas", "Oldest"),
    "by_severity": ("Severidad", "Severidade", "Severity"),
    "by_due": ("Vencimiento", "Vencimento", "Due date"),
    "by_rule": ("Regla", "Regra", "Rule"),
    "when": ("Fecha", "Data", "When"),
    "due": ("Vence", "Vence", "Due"),
    "overdue": ("Vencida", "Vencida", "Overdue"),
    "excerpt": ("Extracto (redactado)", "Trecho (redigido)", "Excerpt (redacted)"),
    "no_alerts": ("No hay alertas con estos filtros.", "Nenhum alerta com estes filtros.", "No alerts match these filters."),
    "results": ("{n} alertas", "{n} alertas", "{n} alerts"),
    "page_of": ("Página {page} de {pages}", "Página {page} de {pages}", "Page {page} of {pages}"),
    "previous": ("Anterior", "Anterior", "Previous"),
    "next": ("Siguiente", "Próxima", "Next"),
    "selected": ("Seleccionadas", "Selecionadas", "Selected"),
    "bulk_assign": ("Asignar a", "Atribuir a", "Assign to"),
    "bulk_dismiss": ("Descartar como falso positivo", "Descartar como falso positivo", "Dismiss as false positive"),
    "bulk_done": ("{n} alertas actualizadas.", "{n} alertas atualizados.", "{n} alerts updated."),
    "bulk_skipped": ("{n} no se pudieron cambiar (estado o permisos).", "{n} não puderam ser alterados (status ou "
                     "permissões).", "{n} could not be changed (state or permissions)."),
    "none_selected": ("No seleccionó ninguna alerta.", "Nenhum alerta selecionado.", "No alert selected."),
    "historical": ("histórico", "histórico", "historical"),
    # case
    "case": ("Caso", "Caso", "Case"),
    "back": ("Volver a la lista", "Voltar à lista", "Back to the list"),
    "description": ("Descripción", "Descrição", "Description"),
    "rule_removed": ("La regla ya no está en los paquetes activos.", "A regra não está mais nos pacotes ativos.",
                     "The rule is no longer in the running packs."),
    "evidence": ("Evidencia", "Evidência", "Evidence"),
    "pii_found": ("Datos personales detectados", "Dados pessoais detectados", "Personal data found"),
    "conversation": ("Conversación", "Conversa", "Conversation"),
    "not_archived": ("Ningún mensaje de esta conversación está en el archivo.", "Nenhuma mensagem desta conversa "
                     "está no arquivo.", "No message of this conversation is in the archive."),
    "flagged": ("mensaje señalado", "mensagem sinalizada", "flagged message"),
    "inbound": ("cliente", "cliente", "customer"),
    "outbound": ("empleado", "funcionário", "employee"),
    "attachments": ("Adjuntos", "Anexos", "Attachments"),
    "earlier": ("Alertas anteriores (misma conversación o empleado)", "Alertas anteriores (mesma conversa ou "
                "funcionário)", "Earlier alerts (same conversation or employee)"),
    "same_conversation": ("misma conversación", "mesma conversa", "same conversation"),
    "none": ("Ninguna.", "Nenhum.", "None."),
    "history": ("Historial del caso", "Histórico do caso", "Case history"),
    "alert_raised": ("Alerta generada", "Alerta gerado", "Alert raised"),
    "decide": ("Decidir", "Decidir", "Decide"),
    "assign": ("Asignar", "Atribuir", "Assign"),
    "assign_me": ("Asignarme", "Atribuir a mim", "Assign to me"),
    "escalate": ("Escalar", "Escalar", "Escalate"),
    "resolve": ("Confirmar violación", "Confirmar violação", "Confirm violation"),
    "dismiss": ("Descartar (falso positivo)", "Descartar (falso positivo)", "Dismiss (false positive)"),
    "reopen": ("Reabrir", "Reabrir", "Reopen"),
    "comment": ("Comentar", "Comentar", "Comment"),
    "acknowledge": ("Confirmar recepción", "Confirmar recebimento", "Acknowledge"),
    "note": ("Nota", "Nota", "Note"),
    "reason": ("Motivo", "Motivo", "Reason"),
    "choose": ("Elija…", "Escolha…", "Choose…"),
    "benign_context": ("Contexto inofensivo", "Contexto inofensivo", "Harmless in context"),
    "wrong_match": ("Coincidencia errónea", "Correspondência errada", "Wrong match"),
    "test_or_training": ("Prueba o capacitación", "Teste ou treinamento", "Test or training"),
    "duplicate": ("Duplicada", "Duplicado", "Duplicate"),
    "customer_consented": ("El cliente lo autorizó", "O cliente autorizou", "Customer consented"),
    "other": ("Otro (explique en la nota)", "Outro (explique na nota)", "Other (explain in the note)"),
    "done": ("Hecho.", "Feito.", "Done."),
    "reveal": ("Mostrar texto original", "Mostrar texto original", "Reveal original text"),
    "reveal_reason": ("Motivo (queda registrado en la auditoría)", "Motivo (fica registrado na auditoria)",
                      "Reason (recorded in the audit trail)"),
    "reveal_short": ("Escriba un motivo de al menos 10 caracteres.", "Escreva um motivo de pelo menos 10 caracteres.",
                     "Type a reason of at least 10 characters."),
    "revealed": ("Texto original mostrado; este acceso quedó registrado.", "Texto original exibido; este acesso foi "
                 "registrado.", "Original text shown; this access was recorded."),
    "no_raw": ("El archivo guarda sólo texto redactado (ARCHIVE_TEXT): no hay texto original que mostrar.",
               "O arquivo guarda apenas texto redigido (ARCHIVE_TEXT): não há texto original para mostrar.",
               "The archive keeps redacted text only (ARCHIVE_TEXT): there is no original text to reveal."),
    "export": ("Exportar paquete del caso", "Exportar pacote do caso", "Export case bundle"),
    "export_hint": ("JSON, CSV y página imprimible con manifiesto SHA-256; la descarga queda registrada.",
                    "JSON, CSV e página imprimível com manifesto SHA-256; o download fica registrado.",
                    "JSON, CSV and a printable page with a SHA-256 manifest; the download is recorded."),
    "held": ("bajo retención legal", "sob retenção legal", "under legal hold"),
    # quality
    "quality_intro": ("Por regla: alertas, violaciones confirmadas, falsos positivos y tasa de descarte "
                      "(descartadas / decididas).", "Por regra: alertas, violações confirmadas, falsos positivos e "
                      "taxa de descarte (descartados / decididos).", "Per rule: alerts, confirmed violations, false "
                      "positives and the dismissal rate (dismissed / decided)."),
    "days": ("{n} días", "{n} dias", "{n} days"),
    "alerts_n": ("Alertas", "Alertas", "Alerts"),
    "violations": ("Violaciones", "Violações", "Violations"),
    "dismissals": ("Descartes", "Descartes", "Dismissals"),
    "dismissal_rate": ("Tasa de descarte", "Taxa de descarte", "Dismissal rate"),
    "top_reasons": ("Motivos principales", "Principais motivos", "Top reasons"),
    # audit
    "audit_intro": ("Cada acceso a un caso, revelación, decisión, exportación e inicio de sesión.",
                    "Cada acesso a um caso, revelação, decisão, exportação e login.",
                    "Every case view, reveal, decision, export and login."),
    "actor": ("Quién", "Quem", "Who"),
    "action": ("Acción", "Ação", "Action"),
    "target": ("Sobre", "Sobre", "On"),
    "source": ("Desde dónde", "De onde", "From where"),
    "details": ("Detalles", "Detalhes", "Details"),
    "export_csv": ("Exportar CSV", "Exportar CSV", "Export CSV"),
    # users
    "role": ("Rol", "Papel", "Role"),
    "teams": ("Equipos", "Equipes", "Teams"),
    "display_name": ("Nombre", "Nome", "Name"),
    "email": ("Correo", "E-mail", "E-mail"),
    "state": ("Situación", "Situação", "State"),
    "enabled": ("activo", "ativo", "enabled"),
    "disabled": ("desactivado", "desativado", "disabled"),
    "add_user": ("Agregar usuario", "Adicionar usuário", "Add user"),
    "disable": ("Desactivar", "Desativar", "Disable"),
    "enable": ("Activar", "Ativar", "Enable"),
    "reset": ("Nueva contraseña", "Nova senha", "New password"),
    "new_password": ("Contraseña de {user} (se muestra una sola vez): {password}", "Senha de {user} (exibida uma "
                     "única vez): {password}", "Password of {user} (shown once): {password}"),
    "analyst": ("analista", "analista", "analyst"),
    "manager": ("gerente", "gerente", "manager"),
    "auditor": ("auditor", "auditor", "auditor"),
    "admin": ("administrador", "administrador", "admin"),
    "permissions": ("Permisos por rol", "Permissões por papel", "Permissions by role"),
    # ack
    "ack_title": ("Confirmar recepción de la alerta", "Confirmar recebimento do alerta", "Acknowledge the alert"),
    "ack_text": ("Al confirmar, el caso queda asignado a usted y la alerta no se escala.", "Ao confirmar, o caso "
                 "fica atribuído a você e o alerta não é escalado.", "Acknowledging assigns the case to you and stops "
                 "the alert from escalating."),
    "ack_done": ("Recepción confirmada.", "Recebimento confirmado.", "Acknowledged."),
    "ack_not_forwarded": ("El aviso no llegó al servicio de notificaciones: la alerta aún puede escalarse.",
                          "O aviso não chegou ao serviço de notificações: o alerta ainda pode ser escalado.",
                          "The notification service could not be told: the alert may still escalate."),
    "link_invalid": ("El enlace no es válido o venció. Abra el caso desde la lista.", "O link é inválido ou "
                     "expirou. Abra o caso pela lista.", "This link is invalid or has expired. Open the case from the "
                     "list."),
    # errors
    "not_found": ("No existe o no tiene acceso.", "Não existe ou você não tem acesso.", "Not found, or not yours to see."),
    "forbidden": ("Su rol no permite esta acción.", "Seu papel não permite esta ação.", "Your role does not allow this."),
    "csrf": ("El formulario venció o no es válido. Recargue la página e intente de nuevo.", "O formulário expirou ou "
             "é inválido. Recarregue a página e tente de novo.", "The form expired or is invalid. Reload the page and "
             "try again."),
    "bad_request": ("Solicitud no válida.", "Solicitação inválida.", "Invalid request."),
    "error": ("Error", "Erro", "Error"),
}


def translate(lang: str, key: str, **values: object) -> str:
    words = WORDS.get(key)
    if words is None:
        return key
    text = words[LANGUAGES.index(lang) if lang in LANGUAGES else 0]
    return text.format(**values) if values else text
